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
CREATE TABLE facts_log (
    server_id text NOT NULL, ticket bigint NOT NULL, leg smallint NOT NULL,
    platform text, login bigint, kind text, raw_action integer, side text, entry text, time_utc timestamptz,
    server_time_msc bigint, zone text, symbol text, symbol_canonical text, asset_class text, contract_size numeric,
    lots numeric, price numeric, profit numeric, swap numeric, commission numeric, fee numeric, taxes numeric, net numeric,
    technical boolean, currency text, order_ticket bigint, position_ticket bigint, reason integer, comment text,
    content_hash bytea, identity_key text, excluded_reason text, closed_lots numeric,
    revision integer NOT NULL DEFAULT 1, change_seq bigint NOT NULL, deleted boolean NOT NULL DEFAULT false,
    digest_part bigint, source_outcome text,
    PRIMARY KEY (server_id, ticket, leg));
CREATE INDEX facts_log_changes ON facts_log (server_id, change_seq);
CREATE INDEX facts_log_login_time ON facts_log (server_id, login, time_utc);
CREATE INDEX facts_log_server_time ON facts_log (server_id, server_time_msc);
CREATE SEQUENCE fact_changes CACHE 100;
CREATE TABLE hours_dirty (server_id text, login bigint, hour_start timestamptz, marked_at timestamptz DEFAULT now(), PRIMARY KEY (server_id, login, hour_start));
CREATE TABLE days_dirty (server_id text, login bigint, utc_day date, marked_at timestamptz DEFAULT now(), PRIMARY KEY (server_id, login, utc_day));
CREATE TABLE cursors (server_id text, stream text, pos bigint, PRIMARY KEY (server_id, stream));
