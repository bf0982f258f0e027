-- 0011: the server's end-of-day records, and the loyalty platform's tier snapshots (issue 19; bridge-protocol §4.8;
-- docs/ingest.md, "Tier snapshots").
--
-- A tier snapshot is one row per broker customer per trading day: the closing balance, credit and equity over the
-- customer's real accounts, deposits net of withdrawals to date, closed lots of the day and of the trailing 30 days,
-- open lots at the close, and the number of active accounts. The balances come from the trade server's own daily
-- records where the bridge serves them (`daily`), else from the account money the accounts stream sent last before
-- the day's close; everything else from the facts that count.

-- The trade server's end-of-day record per account and server day (MT5 IMTDaily, MT4 DailyReport). A corrected
-- record replaces the earlier one. `close_utc`: the server day's end as a real instant (through the server's zone),
-- which trading day it closes.
CREATE TABLE daily_records (
    server_id     text        NOT NULL REFERENCES servers (server_id),
    login         bigint      NOT NULL,
    day           date        NOT NULL,
    close_utc     timestamptz NOT NULL,
    time_msc      bigint,
    currency      text,
    balance       numeric     NOT NULL,
    credit        numeric     NOT NULL,
    equity        numeric     NOT NULL,
    profit        numeric,
    balance_prev  numeric,
    deposits      numeric,
    withdrawals   numeric,
    -- `tcp` or `csv:<file>`.
    source        text        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_id, login, day)
);

-- The account money the accounts stream sent, the last read of each UTC day: the fallback for snapshots when the
-- bridge serves no daily records.
CREATE TABLE account_money_days (
    server_id    text        NOT NULL,
    login        bigint      NOT NULL,
    utc_day      date        NOT NULL,
    taken_at     timestamptz NOT NULL,
    balance      numeric,
    credit       numeric,
    equity       numeric,
    PRIMARY KEY (server_id, login, utc_day)
);

-- Customers whose snapshots from `from_day` on must be decided again (a fact, a daily record or the account money
-- changed on or before a later day: deposits to date, the trailing 30 days and open lots carry forward).
CREATE TABLE snapshot_customers_dirty (
    customer_id  text        PRIMARY KEY,
    from_day     date        NOT NULL,
    held_reason  text,
    marked_at    timestamptz NOT NULL DEFAULT now()
);

-- The last trading day whose close the snapshots have seen: when another day closes, its customers are marked from
-- the first new day on (a snapshot is decided once its day has closed, and again when a late change alters it).
CREATE TABLE snapshot_progress (
    only_row        boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    closed_through  date        NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The last snapshot row queued per customer and trading day, as feed_rows for the daily feed.
CREATE TABLE snapshot_rows (
    customer_id  text        NOT NULL,
    day          date        NOT NULL,
    revision     integer     NOT NULL CHECK (revision >= 1),
    row_hash     text        NOT NULL,
    figures      jsonb       NOT NULL,
    batch_id     text        NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, day)
);

-- One queue for both of the platform's feeds, sent strictly in order: each batch says which feed it is, which
-- names its trigger id for file uploads.
ALTER TABLE feed_batches ADD COLUMN feed text NOT NULL DEFAULT 'daily' CHECK (feed IN ('daily', 'snapshots'));
