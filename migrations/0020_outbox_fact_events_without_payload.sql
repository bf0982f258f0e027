-- Issue 23: a fact's event no longer carries a copy of the fact. The page wrote every event with its ~700-byte
-- payload: measured over the same 206 004 staged facts (scripts/bench's ceiling SQL, one transaction, fsync on),
-- 28.0-29.5 s with the payload, 17.5-18.3 s with a narrow event naming its fact; the staged rows lose the payload's
-- head too (half their width). The relay builds the payload from the stored fact when it sends the event
-- (`Outbox.claim`, `TradingFact.eventPayload`: the same text as before), so a fact event names its fact by id and
-- time: the time is the fact's partition, so the relay reads the months of a round's events only.
--
-- Events written with a payload (by an older mtsync, and aggregates, backfill markers, deletions, retractions
-- decided by account changes and resends, which build theirs in SQL) keep it and are sent as stored.
-- A fact that changes again before its event is sent: the older event is superseded (the relay logs it as
-- delivered without sending it) and the newer revision's event carries the fact.
--
-- Moves nothing; instant on any size of outbox (a nullable column, a dropped NOT NULL, an unvalidated CHECK).
-- Downgrade: an older mtsync's relay cannot send an event without a payload. Let the relay drain the outbox first
-- (`mtsync status`: no pending events), or fill the payloads in SQL before going back:
--   UPDATE outbox o SET payload = (SELECT <FactStore.payloadSQL> FROM trading_facts t
--       WHERE t.fact_id = o.fact_id AND t.time_utc = o.fact_time_utc) WHERE o.payload IS NULL;
-- then `ALTER TABLE outbox DROP CONSTRAINT outbox_payload_or_fact, ALTER COLUMN payload SET NOT NULL,
-- DROP COLUMN fact_time_utc` and delete this migration's row from schema_migrations.
ALTER TABLE outbox ALTER COLUMN payload DROP NOT NULL;
ALTER TABLE outbox ADD COLUMN fact_time_utc timestamptz;
ALTER TABLE outbox ADD CONSTRAINT outbox_payload_or_fact
    CHECK (payload IS NOT NULL OR (fact_id IS NOT NULL AND fact_time_utc IS NOT NULL)) NOT VALID;
