-- 0004: leases for high availability, and the audit of operator changes to cursors.
--
-- server_leases: when several mtsync instances run against one database, each server is synced by the one
-- instance holding its lease. A lease is taken, renewed and handed over by single statements that compare
-- `expires_at` with the database's clock (`now()`), never an instance's own clock, so instances with skewed
-- clocks still agree. A dead instance stops renewing; its lease expires `ttl` after the last renewal and the
-- next instance that asks takes it over (see Sources/MTSyncStore/ServerLease.swift).
--
-- `generation` is a fencing token: it increases with every new tenure (a first take, a takeover of an expired or
-- released lease, hence every change of owner) and when an operator moves the server's cursor. A page store
-- checks (owner, generation) under a row lock in its own transaction, so a writer that lost its lease while
-- paused can never commit a page after its successor started.
--
-- A released lease keeps its row (expires_at set to the release time, released_at set), so the generation
-- keeps growing across tenures instead of starting again at 1.
CREATE TABLE server_leases (
    server_id    text        PRIMARY KEY REFERENCES servers (server_id) ON DELETE CASCADE,
    -- Who holds (or last held) it: unique per running instance, e.g. host:pid:random.
    owner        text        NOT NULL CHECK (owner <> ''),
    -- When this tenure began; renewals keep it.
    acquired_at  timestamptz NOT NULL DEFAULT now(),
    renewed_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    generation   bigint      NOT NULL DEFAULT 1 CHECK (generation >= 1),
    released_at  timestamptz,
    CHECK (expires_at >= renewed_at)
);

-- cursor_audit: every operator change of a cursor (`mtsync cursor set|reset`), written in the transaction that
-- changes it. Reads (`cursor get`) are not recorded. Positions are (server time ms, ticket) as in sync_cursors;
-- the old position is NULL when the cursor did not exist yet.
CREATE TABLE cursor_audit (
    audit_id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    server_id            text        NOT NULL REFERENCES servers (server_id),
    stream               text        NOT NULL
                         CHECK (stream IN ('deals', 'trades', 'open_trades', 'accounts', 'changes')),
    action               text        NOT NULL CHECK (action IN ('set', 'reset')),
    old_server_msc       bigint,
    old_ticket           bigint,
    old_change_sequence  bigint,
    new_server_msc       bigint      NOT NULL,
    new_ticket           bigint      NOT NULL,
    -- True when the change moved the cursor backwards: data after the new position will be read again (the
    -- store's identity makes that harmless; the sync engine by itself only ever moves a cursor forward).
    moved_back           boolean     NOT NULL,
    -- The lease holder whose in-flight work this change fenced off (NULL when nobody held the lease).
    fenced_owner         text,
    -- The operator: `--by`, by default $USER@hostname.
    changed_by           text        NOT NULL CHECK (changed_by <> ''),
    reason               text        NOT NULL CHECK (reason <> ''),
    changed_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((old_server_msc IS NULL) = (old_ticket IS NULL))
);

CREATE INDEX cursor_audit_server ON cursor_audit (server_id, audit_id);
