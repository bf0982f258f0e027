-- A measurement, not code mtsync runs: the store's page as issue 23's "fact table as the log" would write it, in SQL,
-- to compare with `scripts/bench`'s (2) and (2b) on the same staged rows (docs/benchmarks.md, "2026-12-07 (night)").
-- One row per fact keyed by its identity (no fact_identities, no outbox row: a change sequence the relay would read
-- past a delivered mark), the source record's digest folded into it, the aggregator's and the feed's marks, a cursor.
-- COPY reads the files on the server (a superuser, as scripts/bench's cluster gives; absolute paths).
-- Not modelled: partitions, the relay's read, retractions, held records.
--
--   scripts/bench --deals 200000 --keep          # prints the kept directory D (cluster URL in D/pg/url)
--   psql "$U" -c 'CREATE DATABASE proto'; U2=<the URL with /proto>
--   psql "$U2" -f scripts/prototypes/fact-log-setup.sql && psql "$U2" -c CHECKPOINT
--   time psql "$U2" -X -v facts=D/ceiling/facts.tsv -v sources=D/ceiling/sources.tsv -f scripts/prototypes/fact-log.sql
\set ON_ERROR_STOP on
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE TEMP TABLE IF NOT EXISTS mtsync_staged_facts (
    server_id text, platform text, login bigint, ticket bigint, leg smallint, kind text, raw_action integer,
    side text, entry text, time_utc timestamptz, server_time_msc bigint, zone text, symbol text,
    symbol_canonical text, asset_class text, contract_size numeric, lots numeric, price numeric, profit numeric,
    swap numeric, commission numeric, fee numeric, taxes numeric, net numeric, technical boolean, currency text,
    order_ticket bigint, position_ticket bigint, reason integer, comment text, content_hash bytea, identity_key text,
    excluded_reason text, closed_lots numeric
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS mtsync_staged_sources (
    ticket bigint, server_time_msc bigint, digest_part bigint, volume numeric, outcome text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS mtsync_merged (
    fact_id bigint, server_id text, ticket bigint, leg smallint, revision integer, was_counted boolean
) ON COMMIT DELETE ROWS;
COPY mtsync_staged_facts FROM :'facts';
COPY mtsync_staged_sources FROM :'sources';
WITH up AS (
    INSERT INTO facts_log AS f (server_id, ticket, leg, platform, login, kind, raw_action, side, entry, time_utc, server_time_msc, zone,
        symbol, symbol_canonical, asset_class, contract_size, lots, price, profit, swap, commission, fee, taxes, net, technical,
        currency, order_ticket, position_ticket, reason, comment, content_hash, identity_key, excluded_reason, closed_lots,
        change_seq, digest_part, source_outcome)
    SELECT s.server_id, s.ticket, s.leg, s.platform, s.login, s.kind, s.raw_action, s.side, s.entry, s.time_utc, s.server_time_msc, s.zone,
        s.symbol, s.symbol_canonical, s.asset_class, s.contract_size, s.lots, s.price, s.profit, s.swap, s.commission, s.fee, s.taxes, s.net, s.technical,
        s.currency, s.order_ticket, s.position_ticket, s.reason, s.comment, s.content_hash, s.identity_key, s.excluded_reason, s.closed_lots,
        nextval('fact_changes'), src.digest_part, src.outcome
    FROM mtsync_staged_facts s LEFT JOIN mtsync_staged_sources src ON src.ticket = s.ticket AND s.leg = 0
    ON CONFLICT (server_id, ticket, leg) DO UPDATE
       SET revision = f.revision + 1, change_seq = EXCLUDED.change_seq, content_hash = EXCLUDED.content_hash, time_utc = EXCLUDED.time_utc,
           login = EXCLUDED.login, lots = EXCLUDED.lots, net = EXCLUDED.net, deleted = false
     WHERE f.content_hash <> EXCLUDED.content_hash OR f.deleted
    RETURNING f.server_id, f.login, f.time_utc, f.excluded_reason
), counted AS (SELECT * FROM up WHERE excluded_reason IS NULL
), hour_marks AS (
    INSERT INTO hours_dirty (server_id, login, hour_start)
    SELECT DISTINCT server_id, login, date_trunc('hour', time_utc, 'UTC') FROM counted ORDER BY 1, 2, 3
    ON CONFLICT (server_id, login, hour_start) DO UPDATE SET marked_at = now()
), day_marks AS (
    INSERT INTO days_dirty (server_id, login, utc_day)
    SELECT DISTINCT server_id, login, (time_utc AT TIME ZONE 'UTC')::date FROM counted ORDER BY 3, 1, 2
    ON CONFLICT (server_id, login, utc_day) DO UPDATE SET marked_at = now()
)
SELECT count(*) FROM up;
INSERT INTO cursors VALUES ('x', 'deals', 1) ON CONFLICT (server_id, stream) DO UPDATE SET pos = GREATEST(cursors.pos, EXCLUDED.pos);
COMMIT;
