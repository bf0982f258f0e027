-- 0007: hourly aggregates for the ingest (issue 6; docs/ingest.md, "aggregate.hourly").
--
-- The store marks every (server, login, UTC hour) whose facts a page changed — inserted, updated (the old hour
-- too, when a fact moved) or deleted — in the page's own transaction, so no change is missed whatever the commit
-- order of concurrent pages. The aggregator takes marked hours once they are closed plus a grace period, sums their
-- live facts, and emits `aggregate.hourly` only when the sums differ from what it emitted before (revision + 1).
CREATE TABLE aggregate_hours_dirty (
    server_id   text        NOT NULL,
    login       bigint      NOT NULL,
    hour_start  timestamptz NOT NULL,
    marked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_id, login, hour_start)
);
CREATE INDEX aggregate_hours_dirty_due ON aggregate_hours_dirty (hour_start);

-- What was emitted last per trader and hour: its revision and a hash of its sums, to emit again only on change.
CREATE TABLE hourly_aggregates (
    server_id   text        NOT NULL,
    login       bigint      NOT NULL,
    hour_start  timestamptz NOT NULL,
    revision    integer     NOT NULL,
    body_hash   text        NOT NULL,
    payload     jsonb       NOT NULL,
    emitted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_id, login, hour_start)
);

-- Facts stored before this migration count too: every hour that has facts is due once.
INSERT INTO aggregate_hours_dirty (server_id, login, hour_start)
SELECT DISTINCT server_id, login, date_trunc('hour', time_utc, 'UTC') FROM trading_facts;
