-- The MT5 SQL export's tables (backup server → MySQL/MariaDB), as far as the reference bridge reads them:
-- column names and MySQL types as MetaQuotes' admin manual ("SQL Export", per-table pages) documents them and a
-- live database's introspected schema shows (shared/research/bridge-sources.md §3). The real export has more
-- columns; the bridge selects by name and never needs the others. Tests load this into a throwaway MariaDB.
-- With "export history into separate tables by years", deals live in mt5_deals_2024, mt5_deals_2025, ...

CREATE TABLE IF NOT EXISTS mt5_deals (
  Deal bigint unsigned NOT NULL PRIMARY KEY,
  Timestamp bigint NOT NULL,
  ExternalID varchar(32) NOT NULL DEFAULT '',
  Login bigint unsigned NOT NULL,
  Dealer bigint unsigned NOT NULL DEFAULT 0,
  `Order` bigint unsigned NOT NULL,
  Action int unsigned NOT NULL,
  Entry int unsigned NOT NULL,
  Reason int unsigned NOT NULL,
  Digits int unsigned NOT NULL,
  DigitsCurrency int unsigned NOT NULL,
  ContractSize double NOT NULL,
  Time datetime NOT NULL,
  TimeMsc datetime(3) NOT NULL,
  Symbol varchar(32) NOT NULL,
  Price double NOT NULL,
  Volume bigint unsigned NOT NULL,
  VolumeExt bigint unsigned NOT NULL,
  VolumeClosed bigint unsigned NOT NULL DEFAULT 0,
  VolumeClosedExt bigint unsigned NOT NULL DEFAULT 0,
  Profit double NOT NULL,
  Storage double NOT NULL,
  Commission double NOT NULL,
  Fee double NOT NULL DEFAULT 0,
  PositionID bigint unsigned NOT NULL,
  Comment varchar(32) NOT NULL DEFAULT '',
  KEY time_deal (TimeMsc, Deal),  -- the export creates no index: the broker adds this one for the bridge
  KEY changed (Timestamp)
);

CREATE TABLE IF NOT EXISTS mt5_groups (
  `Group` varchar(64) NOT NULL PRIMARY KEY,
  Timestamp bigint NOT NULL,
  Currency varchar(16) NOT NULL
);

CREATE TABLE IF NOT EXISTS mt5_users (
  Login bigint unsigned NOT NULL PRIMARY KEY,
  Timestamp bigint NOT NULL,
  `Group` varchar(64) NOT NULL,
  ClientID bigint unsigned NOT NULL DEFAULT 0,
  Leverage int unsigned NOT NULL,
  Balance double NOT NULL DEFAULT 0,
  Credit double NOT NULL DEFAULT 0,
  Registration datetime NOT NULL DEFAULT '1970-01-01 00:00:00'
);

CREATE TABLE IF NOT EXISTS mt5_symbols (
  Symbol varchar(32) NOT NULL PRIMARY KEY,
  Timestamp bigint NOT NULL,
  Path varchar(128) NOT NULL DEFAULT '',
  CurrencyBase varchar(16) NOT NULL,
  CurrencyProfit varchar(16) NOT NULL,
  CurrencyMargin varchar(16) NOT NULL,
  Digits int unsigned NOT NULL,
  CalcMode int unsigned NOT NULL DEFAULT 0,
  ContractSize double NOT NULL
);

-- Datetime is documented as DATETIME but is a bigint (server-time epoch seconds) in real MySQL schemas.
CREATE TABLE IF NOT EXISTS mt5_daily (
  Datetime bigint NOT NULL,
  Login bigint unsigned NOT NULL,
  Currency varchar(16) NOT NULL DEFAULT '',
  Balance double NOT NULL,
  Credit double NOT NULL,
  ProfitEquity double NOT NULL,
  Profit double NOT NULL DEFAULT 0,
  BalancePrevDay double NOT NULL DEFAULT 0,
  PRIMARY KEY (Datetime, Login)
);

CREATE TABLE IF NOT EXISTS mt5_time (
  TimeZone int NOT NULL,
  Daylight int unsigned NOT NULL,
  DaylightState int unsigned NOT NULL DEFAULT 0
);
