-- 0001: the schema mtsync stands on.
--
-- Applied by `mtsync migrate` inside one transaction, under the migrator's advisory lock; recorded with its
-- SHA-256 in schema_migrations. Never edit this file once released: add a new numbered file instead.
--
-- Conventions
--   * Times that MetaTrader gives us are "server time": the trade server's wall clock counted as if it were UTC,
--     in milliseconds (`*_server_msc`, bigint). Real instants are `timestamptz` (`*_utc` / `*_at`).
--   * Money, prices and volumes are `numeric` (exact, any scale): never float.
--   * Deal and order tickets are bigint: MT5 tickets are unsigned 64-bit, but no server issues tickets above
--     2^63 - 1; normalization rejects such a ticket with a clear reason rather than wrapping it.

-- A MetaTrader trade server that mtsync syncs (one row per MT4 or MT5 server).
CREATE TABLE servers (
    server_id    text        PRIMARY KEY
                 CHECK (server_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    platform     text        NOT NULL CHECK (platform IN ('mt4', 'mt5')),
    -- IANA zone, fixed offset or 'ny-close': how server time maps to UTC.
    time_zone    text        NOT NULL,
    enabled      boolean     NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- One cursor per server and stream. A cursor moves only in the transaction that stores the data it covers, and
-- only forward: (position_server_msc, position_ticket) compared as a pair, so deals sharing a millisecond are
-- never skipped. `change_sequence` is for the bridge's optional `changes` stream.
CREATE TABLE sync_cursors (
    server_id            text        NOT NULL REFERENCES servers (server_id) ON DELETE CASCADE,
    stream               text        NOT NULL
                         CHECK (stream IN ('deals', 'trades', 'open_trades', 'accounts', 'changes')),
    position_server_msc  bigint      NOT NULL DEFAULT 0,
    position_ticket      bigint      NOT NULL DEFAULT 0,
    change_sequence      bigint,
    records_stored       bigint      NOT NULL DEFAULT 0,
    last_success_at      timestamptz,
    last_error_at        timestamptz,
    last_error           text,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_id, stream)
);

-- The identity of every trading fact ever stored: (server, ticket, leg). MT5 deals and single MT4 operations use
-- leg 0; an MT4 trade has leg 1 (open) and leg 2 (close). This table is NOT partitioned, so the identity is
-- unique across all months even if a dealer later moves a deal's time into another month; it is the target of
-- the store's set-based merge (insert / same hash: nothing / new hash: revision + 1).
CREATE TABLE fact_identities (
    fact_id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    server_id     text        NOT NULL REFERENCES servers (server_id),
    ticket        bigint      NOT NULL CHECK (ticket >= 0),
    leg           smallint    NOT NULL DEFAULT 0 CHECK (leg IN (0, 1, 2)),
    revision      integer     NOT NULL DEFAULT 1 CHECK (revision >= 1),
    content_hash  bytea       NOT NULL,
    -- Where the current revision lives in trading_facts (its partition key).
    time_utc      timestamptz NOT NULL,
    deleted_at    timestamptz,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (server_id, ticket, leg)
);

-- The normalized facts, current revision only, partitioned by month of the trade's UTC time so that old months
-- can be detached or archived and range scans (backfill, reconcile, daily rows) touch only their months.
CREATE TABLE trading_facts (
    fact_id           bigint      NOT NULL,
    time_utc          timestamptz NOT NULL,
    server_id         text        NOT NULL,
    platform          text        NOT NULL CHECK (platform IN ('mt4', 'mt5')),
    login             bigint      NOT NULL,
    ticket            bigint      NOT NULL,
    leg               smallint    NOT NULL,
    revision          integer     NOT NULL,
    kind              text        NOT NULL,
    raw_action        integer,
    side              text        CHECK (side IN ('buy', 'sell')),
    entry             text        CHECK (entry IN ('in', 'out', 'inout', 'out_by')),
    server_time_msc   bigint      NOT NULL,
    zone              text        NOT NULL,
    symbol            text,
    symbol_canonical  text,
    asset_class       text,
    contract_size     numeric,
    lots              numeric     NOT NULL DEFAULT 0,
    price             numeric,
    profit            numeric     NOT NULL DEFAULT 0,
    swap              numeric     NOT NULL DEFAULT 0,
    commission        numeric     NOT NULL DEFAULT 0,
    fee               numeric     NOT NULL DEFAULT 0,
    taxes             numeric     NOT NULL DEFAULT 0,
    net               numeric     NOT NULL DEFAULT 0,
    technical         boolean     NOT NULL DEFAULT false,
    currency          text,
    order_ticket      bigint,
    position_ticket   bigint,
    reason            integer,
    comment           text,
    content_hash      bytea       NOT NULL,
    idempotency_key   text        NOT NULL,
    deleted           boolean     NOT NULL DEFAULT false,
    stored_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fact_id, time_utc)
) PARTITION BY RANGE (time_utc);

-- Reconcile compares the bridge's per-bucket digests (in server time) with the store.
CREATE INDEX trading_facts_server_time ON trading_facts (server_id, server_time_msc);
-- Per-trader questions (support: "is this deal there?", daily rows per login).
CREATE INDEX trading_facts_login_time ON trading_facts (server_id, login, time_utc);

-- Safety net: a row whose month has no partition yet lands here instead of failing the page. The store creates
-- monthly partitions ahead of the data (ensure_trading_fact_partitions), so this stays empty; `mtsync status`
-- reports it when it is not.
CREATE TABLE trading_facts_default PARTITION OF trading_facts DEFAULT;

-- Creates the monthly partitions covering [from_month, to_month] (idempotent). Called by the store before it
-- writes a page whose times fall in months it has not seen.
CREATE FUNCTION ensure_trading_fact_partitions(from_time timestamptz, to_time timestamptz)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    month_start date := date_trunc('month', from_time AT TIME ZONE 'UTC')::date;
    last_month  date := date_trunc('month', to_time AT TIME ZONE 'UTC')::date;
    part_name   text;
    created     integer := 0;
BEGIN
    WHILE month_start <= last_month LOOP
        part_name := format('trading_facts_%s', to_char(month_start, 'YYYY_MM'));
        IF to_regclass(part_name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF trading_facts FOR VALUES FROM (%L) TO (%L)',
                part_name,
                (month_start::timestamp AT TIME ZONE 'UTC'),
                ((month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            created := created + 1;
        END IF;
        month_start := (month_start + interval '1 month')::date;
    END LOOP;
    RETURN created;
END;
$$;

-- The transactional outbox: one event per fact insert, update or delete, written in the same transaction as the
-- fact. The relay claims pending rows per server in event order (FOR UPDATE SKIP LOCKED), marks them delivered
-- only after the ingest acknowledged them, and parks a poison event after N attempts.
CREATE TABLE outbox (
    event_id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    server_id        text        NOT NULL,
    fact_id          bigint,
    event_kind       text        NOT NULL,
    idempotency_key  text        NOT NULL,
    payload          jsonb       NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    available_at     timestamptz NOT NULL DEFAULT now(),
    attempts         integer     NOT NULL DEFAULT 0,
    last_error       text,
    delivered_at     timestamptz,
    parked_at        timestamptz
);

-- What the relay scans: pending events per server in order. Partial, so delivered history costs it nothing.
CREATE INDEX outbox_pending ON outbox (server_id, event_id)
    WHERE delivered_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_parked ON outbox (server_id, event_id) WHERE parked_at IS NOT NULL;

-- Input that could not be normalized or parsed: kept with the reason and the exact raw bytes, never dropped.
CREATE TABLE quarantine (
    quarantine_id  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    server_id      text,
    stream         text        NOT NULL,
    -- Where it came from: 'tcp' or 'csv:<file name>', with a line number or stream position when known.
    source         text        NOT NULL,
    line_number    bigint,
    reason_code    text        NOT NULL,
    reason         text        NOT NULL,
    raw            bytea       NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz
);

CREATE INDEX quarantine_open ON quarantine (server_id, received_at) WHERE resolved_at IS NULL;

-- Bounded jobs (backfill, reconcile): resumable after a crash through per-chunk progress.
CREATE TABLE jobs (
    job_id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind               text        NOT NULL CHECK (kind IN ('backfill', 'reconcile')),
    server_id          text        NOT NULL REFERENCES servers (server_id),
    range_from_server_msc bigint   NOT NULL,
    range_to_server_msc   bigint   NOT NULL,
    chunk_msc          bigint      NOT NULL CHECK (chunk_msc > 0),
    state              text        NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    options            jsonb       NOT NULL DEFAULT '{}',
    owner              text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    heartbeat_at       timestamptz,
    finished_at        timestamptz,
    last_error         text,
    CHECK (range_from_server_msc < range_to_server_msc)
);

-- At most one live job per (kind, server, range): a second cron run of the same backfill joins or waits instead
-- of duplicating the work.
CREATE UNIQUE INDEX jobs_one_live_per_range ON jobs (kind, server_id, range_from_server_msc, range_to_server_msc)
    WHERE state IN ('pending', 'running');

CREATE TABLE job_chunks (
    job_id            bigint      NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    chunk_from_server_msc bigint  NOT NULL,
    chunk_to_server_msc   bigint  NOT NULL,
    state             text        NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'done', 'failed')),
    records           bigint      NOT NULL DEFAULT 0,
    finished_at       timestamptz,
    PRIMARY KEY (job_id, chunk_from_server_msc)
);
