-- The MT4 Report Server's tables (MetaQuotes' replication of an MT4 server into MySQL), as far as the reference
-- bridge reads them; column names and types as a broker CRM's copy of the schema shows them
-- (shared/research/bridge-sources.md §1). The real tables have more columns; the bridge selects by name.
-- TICKET and LOGIN are `int` in MetaQuotes' schema; bigint here so the tests can load the simulator's wide
-- tickets (the bridge reads either).

CREATE TABLE IF NOT EXISTS mt4_trades (
  TICKET bigint NOT NULL PRIMARY KEY,
  LOGIN bigint NOT NULL,
  SYMBOL char(16) NOT NULL DEFAULT '',
  DIGITS int NOT NULL DEFAULT 0,
  CMD int NOT NULL,
  VOLUME int NOT NULL,
  OPEN_TIME datetime NOT NULL,
  OPEN_PRICE double NOT NULL DEFAULT 0,
  SL double NOT NULL DEFAULT 0,
  TP double NOT NULL DEFAULT 0,
  CLOSE_TIME datetime NOT NULL DEFAULT '1970-01-01 00:00:00',
  EXPIRATION datetime NOT NULL DEFAULT '1970-01-01 00:00:00',
  REASON int NOT NULL DEFAULT 0,
  CONV_RATE1 double NOT NULL DEFAULT 0,
  CONV_RATE2 double NOT NULL DEFAULT 0,
  COMMISSION double NOT NULL DEFAULT 0,
  COMMISSION_AGENT double NOT NULL DEFAULT 0,
  SWAPS double NOT NULL DEFAULT 0,
  CLOSE_PRICE double NOT NULL DEFAULT 0,
  PROFIT double NOT NULL DEFAULT 0,
  TAXES double NOT NULL DEFAULT 0,
  COMMENT char(32) NOT NULL DEFAULT '',
  INTERNAL_ID int NOT NULL DEFAULT 0,
  MARGIN_RATE double NOT NULL DEFAULT 0,
  TIMESTAMP int NOT NULL DEFAULT 0,
  MAGIC int NOT NULL DEFAULT 0,
  MODIFY_TIME datetime NOT NULL DEFAULT '1970-01-01 00:00:00',
  KEY close_ticket (CLOSE_TIME, TICKET)  -- not in the replica by default: the broker adds it for the bridge
);

CREATE TABLE IF NOT EXISTS mt4_users (
  LOGIN bigint NOT NULL PRIMARY KEY,
  `GROUP` char(16) NOT NULL,
  LEVERAGE int NOT NULL,
  BALANCE double NOT NULL DEFAULT 0,
  CREDIT double NOT NULL DEFAULT 0,
  EQUITY double NOT NULL DEFAULT 0,
  MARGIN double NOT NULL DEFAULT 0,
  MARGIN_FREE double NOT NULL DEFAULT 0,
  ID char(32) NOT NULL DEFAULT '',
  COMMENT char(64) NOT NULL DEFAULT '',
  NAME char(128) NOT NULL DEFAULT '',
  EMAIL char(48) NOT NULL DEFAULT '',
  TIMESTAMP int NOT NULL DEFAULT 0,
  MODIFY_TIME datetime NOT NULL DEFAULT '1970-01-01 00:00:00'
);

CREATE TABLE IF NOT EXISTS mt4_daily (
  LOGIN bigint NOT NULL,
  TIME datetime NOT NULL,
  `GROUP` char(16) NOT NULL DEFAULT '',
  BANK char(64) NOT NULL DEFAULT '',
  BALANCE_PREV double NOT NULL DEFAULT 0,
  BALANCE double NOT NULL,
  DEPOSIT double NOT NULL DEFAULT 0,
  CREDIT double NOT NULL DEFAULT 0,
  PROFIT_CLOSED double NOT NULL DEFAULT 0,
  PROFIT double NOT NULL DEFAULT 0,
  EQUITY double NOT NULL,
  MARGIN double NOT NULL DEFAULT 0,
  MARGIN_FREE double NOT NULL DEFAULT 0,
  MODIFY_TIME datetime NOT NULL DEFAULT '1970-01-01 00:00:00',
  PRIMARY KEY (LOGIN, TIME)
);
