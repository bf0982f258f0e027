-- 0009: a bad record is quarantined once while it stays open.
--
-- The incremental sync re-reads its lookback window every poll, so a record the normalizer refused came back, and
-- was quarantined again, every few seconds for as long as it stayed in the window (an hour by default). Each open
-- entry is now unique by where it came from — its source and line (two identical bad rows on two lines of a CSV
-- file stay two entries; a TCP record has no line) — and its exact bytes: the store's insert skips one that is
-- already open (ON CONFLICT DO NOTHING) and counts only new entries. A resolved entry does not block a new one: if
-- the same bytes come back after an operator resolved them, they are quarantined again.
-- Generated, so every writer (the store, an operator's INSERT, a test) gets it without naming it.
ALTER TABLE quarantine ADD COLUMN raw_sha256 bytea GENERATED ALWAYS AS (sha256(raw)) STORED;

-- Copies already stored by the old behaviour: keep the earliest open entry of each, resolve the rest as duplicates
-- (nothing is deleted; they are still there to read).
UPDATE quarantine q SET resolved_at = now()
WHERE q.resolved_at IS NULL
  AND EXISTS (
    SELECT 1 FROM quarantine e
    WHERE e.resolved_at IS NULL AND e.quarantine_id < q.quarantine_id
      AND e.server_id IS NOT DISTINCT FROM q.server_id AND e.stream = q.stream AND e.source = q.source
      AND e.line_number IS NOT DISTINCT FROM q.line_number AND e.raw_sha256 = q.raw_sha256);

CREATE UNIQUE INDEX quarantine_open_once ON quarantine (server_id, stream, source, line_number, raw_sha256) NULLS NOT DISTINCT
    WHERE resolved_at IS NULL;
