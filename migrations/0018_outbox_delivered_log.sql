-- 0018: a delivered event leaves the outbox for a narrow log (issue 23).
--
-- Marking an event delivered was an UPDATE of its outbox row: PostgreSQL writes a whole new version of the ~1 KB row
-- (payload and all) and a new primary-key entry for it, ~15-18 µs of the database per event, the larger half of the
-- relay's cost once claims went per server (0017). Now the relay's mark deletes the row (~7 µs) and writes what an
-- operator asks of a delivery afterwards — which event, which key, when it was written and when the ingest took it —
-- into outbox_delivered (~140 bytes a row, no payload: `mtsync outbox resend` rebuilds a fact's from the fact).
-- The outbox holds only what is still to be sent or was parked; `ingest.relay.keep_delivered` (default 7 days, or
-- forever) now bounds this log instead.
--
-- Only a BRIN index, on delivered_at: the relay appends in delivery order, so it is a few pages and costs the mark
-- next to nothing, and retention deletes by it. Looking up one key (`WHERE idempotency_key = …`) reads the log.
--
-- Nothing is moved: events an older mtsync marked (outbox.delivered_at set) stay in the outbox until retention
-- prunes them as before, and the relay never claims them. While relays of both versions run (a rolling upgrade),
-- an older relay's deliveries still land in outbox.delivered_at, this one's here.
-- Downgrade (with the previous release's binary): DROP VIEW outbox_events; DROP TABLE outbox_delivered; and delete
-- this migration's row from schema_migrations. The log's rows are then gone (the events stay delivered: they are no
-- longer in the outbox).
CREATE TABLE outbox_delivered (
    event_id        bigint      NOT NULL,
    server_id       text        NOT NULL,
    fact_id         bigint,
    event_kind      text        NOT NULL,
    idempotency_key text        NOT NULL,
    created_at      timestamptz NOT NULL,
    -- Deliveries tried before the one the ingest acknowledged.
    attempts        integer     NOT NULL,
    backfill_job_id bigint,
    delivered_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_delivered_at ON outbox_delivered USING brin (delivered_at);

-- Every event written and not yet pruned, sent or not: what the outbox alone showed before (its payload aside).
-- For operators and the test suites' accounting ("one event per fact"); delivered_at is NULL while pending.
CREATE VIEW outbox_events AS
    SELECT event_id, server_id, fact_id, event_kind, idempotency_key, created_at, attempts, backfill_job_id, delivered_at, parked_at
    FROM outbox
    UNION ALL
    SELECT event_id, server_id, fact_id, event_kind, idempotency_key, created_at, attempts, backfill_job_id, delivered_at, NULL::timestamptz
    FROM outbox_delivered;
