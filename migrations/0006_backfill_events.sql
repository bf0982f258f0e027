-- 0006: backfill jobs announce themselves to the ingest (issue 6; docs/ingest.md, "backfill.started,
-- backfill.completed"), and the facts a backfill stores travel in messages flagged `"backfill": true`.
--
-- Every outbox row remembers the backfill job whose transaction wrote it. The store sets the transaction-local
-- setting mtsync.backfill_job while it stores a backfill's page; the default below reads it, so each of the
-- store's INSERTs into the outbox (new and changed facts, deletions) is tagged without naming the column.
-- Added without a default first, then given one: existing rows stay NULL and the table is not rewritten.
ALTER TABLE outbox ADD COLUMN backfill_job_id bigint;
ALTER TABLE outbox ALTER COLUMN backfill_job_id SET DEFAULT nullif(current_setting('mtsync.backfill_job', true), '')::bigint;
