-- 0014: a lease names the process that holds it, not only the instance (issue 20, finding 6).
--
-- Before, a lease's owner was the configured `instance.id` and a lease whose owner matched was "mine": two
-- processes started with the same instance id (a copied configuration, an old daemon not stopped) both worked
-- every server. Now each process has a random `token` and a lease is its holder's only when owner AND token
-- match. The token doubles as the key of a session-level advisory lock the process holds while it lives
-- (`pg_advisory_lock(token)`, released by PostgreSQL when the session ends, e.g. when the process is killed): a
-- lease whose owner is this instance but whose token's lock nobody holds belongs to a dead predecessor and is
-- taken over at once, with generation + 1 (see Sources/MTSyncStore/ServerLease.swift).
--
-- Rows written before this migration have no token: a restarted instance takes its own back at once, another
-- instance waits for them to expire as before.
ALTER TABLE server_leases
    ADD COLUMN token       bigint,
    -- Where the holding process runs, for `mtsync status`, /readyz and the messages that name a holder.
    ADD COLUMN holder_host text,
    ADD COLUMN holder_pid  integer;

-- instances: which process runs each instance id as a daemon (`mtsync run`). A daemon holds the session-level
-- advisory lock `hashtextextended('mtsync instance ' || instance_id, 0)` for its whole life and writes its row here
-- when it takes it; a second daemon with the same instance id cannot take the lock and names this row's process
-- in its refusal. The row stays after the process ends (`mtsync status` shows whether its lock is still held).
CREATE TABLE instances (
    instance_id text        PRIMARY KEY CHECK (instance_id <> ''),
    token       bigint      NOT NULL,
    host        text        NOT NULL,
    pid         integer     NOT NULL,
    started_at  timestamptz NOT NULL,
    -- When this process took the instance lock (its start, or its reconnection after the database went away).
    locked_at   timestamptz NOT NULL DEFAULT now()
);
