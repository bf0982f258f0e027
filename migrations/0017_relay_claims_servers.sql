-- 0017: the relay claims a server, not each of its events (issue 23).
--
-- Until now a relay claimed each event it was about to send: SELECT … FOR UPDATE SKIP LOCKED, then a stamp
-- (outbox.claimed_by, claimed_until) on every row, and marking it delivered rewrote the row again. An outbox row
-- carries its payload (~800 bytes), and PostgreSQL writes a whole new row version for any update, so every event
-- was written three times: by the page, by the claim and by the mark — most of the relay's time went there.
--
-- Now a relay claims a server for `claim_for` (one row here, renewed by each round), reads that server's pending
-- events without locking them, sends them and marks the acknowledged ones delivered. A server's events are then sent
-- by one relay at a time, in event order (before, two relays could split one server's backlog between them). A
-- relay that dies leaves its claim to expire, as before, and another relay sends the same events again with the same
-- keys (at least once). `mtsync relay` and the daemon give their claims back when they stop cleanly.
--
-- outbox.claimed_by and claimed_until stay: an older mtsync still writes them, and this one skips an event an older
-- relay has claimed until that claim expires. An older relay does not see a server's claim, so while relays of both
-- versions run (a rolling upgrade) some events may go out twice, under the same keys: the receiver drops the repeat.
-- Downgrade (with the previous release's binary, which claims events one by one): DROP TABLE relay_claims; and
-- delete this migration's row from schema_migrations.
CREATE TABLE relay_claims (
    server_id     text        PRIMARY KEY,
    claimed_by    text        NOT NULL,
    claimed_until timestamptz NOT NULL,
    -- When this owner took the server (kept while it renews): how long one relay has been sending it.
    claimed_since timestamptz NOT NULL DEFAULT now()
);
