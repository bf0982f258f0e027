-- 0010: the account decides (issue 19; design invariant 9; docs/ingest.md, "What the account decides").
--
-- Every fact is decided from the account it belongs to, whatever way the account came in (the bridge's accounts
-- stream over TCP, an accounts file of a CSV drop): a demo group's fact is stored but never sent, a fact of an
-- account not known yet waits as pending and is decided when the account arrives, and a group change applies to
-- the deals after it. So the accounts get a history, facts a decision, and undecided records a table of their own.

-- What decides facts, as it was learned: a new row whenever the group or currency of an account changes. The first
-- state learned holds since always ('-infinity'): a login's first account record describes its past too. A later
-- one holds from the bridge's `updated_ms` (server time, converted to UTC) when it sent one, else from when mtsync
-- learned it. `applied_at` NULL: stored facts at or after `valid_from` have not been decided again by it yet (the
-- engine does it right after storing the accounts, and on its next pass after a crash).
CREATE TABLE account_versions (
    server_id      text        NOT NULL,
    login          bigint      NOT NULL CHECK (login >= 0),
    valid_from     timestamptz NOT NULL,
    account_group  text,
    currency       text,
    -- Where it was learned: `tcp`, `csv:<file>`.
    learned_from   text        NOT NULL,
    learned_at     timestamptz NOT NULL DEFAULT now(),
    applied_at     timestamptz,
    PRIMARY KEY (server_id, login, valid_from)
);
CREATE INDEX account_versions_unapplied ON account_versions (server_id, login) WHERE applied_at IS NULL;

-- Accounts stored before this migration came from the bridge (an operator's import creates rows without group,
-- currency or client id): they become first versions, applied (their facts were stored under the old rules).
INSERT INTO account_versions (server_id, login, valid_from, account_group, currency, learned_from, learned_at, applied_at)
SELECT server_id, login, '-infinity', account_group, currency, 'migration 0010', updated_at, now()
FROM accounts
WHERE account_group IS NOT NULL OR currency IS NOT NULL OR client_id IS NOT NULL OR bridge_updated_ms IS NOT NULL;

-- The account's money as the bridge last sent it (§4.4, MAY: exact decimals in the account currency), and when.
ALTER TABLE accounts
    ADD COLUMN balance          numeric,
    ADD COLUMN credit           numeric,
    ADD COLUMN equity           numeric,
    ADD COLUMN margin           numeric,
    ADD COLUMN margin_free      numeric,
    ADD COLUMN money_updated_at timestamptz;

-- A fact's decision: NULL, it counts and is sent; else why it is not (`group_excluded`, `login_excluded`, …): it is
-- stored, counted by reason and never sent. `closed_lots`: the position volume the deal closed, when the bridge
-- said (MT5 VolumeClosedExt / VolumeClosed).
ALTER TABLE trading_facts
    ADD COLUMN excluded_reason text,
    ADD COLUMN closed_lots     numeric;
CREATE INDEX trading_facts_excluded ON trading_facts (server_id, excluded_reason) WHERE excluded_reason IS NOT NULL;

-- Records whose account is not known yet (or has no group while group filters are set): held whole, with their
-- fields as received, until the account arrives; then normalized again and stored like any record. One row per
-- record, replaced when the record is read again.
CREATE TABLE pending_records (
    server_id        text        NOT NULL REFERENCES servers (server_id),
    stream           text        NOT NULL CHECK (stream IN ('deals', 'trades', 'open_trades')),
    ticket           bigint      NOT NULL,
    login            bigint      NOT NULL,
    server_time_msc  bigint      NOT NULL,
    -- The record's fields by their protocol names, values as received (text).
    fields           jsonb       NOT NULL,
    reason           text        NOT NULL CHECK (reason IN ('account_unknown', 'group_unknown')),
    -- `tcp` or `csv:<file>`.
    source           text        NOT NULL,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    -- The last time a decision was tried: it is tried again when an account version is learned after it.
    decided_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_id, stream, ticket)
);
CREATE INDEX pending_records_login ON pending_records (server_id, login);

-- A pending record was served by the bridge: reconcile counts it as present.
ALTER TABLE source_records DROP CONSTRAINT source_records_outcome_check,
    ADD CONSTRAINT source_records_outcome_check CHECK (outcome IN ('stored', 'skipped', 'quarantined', 'pending'));

-- The server's symbols as its bridge (`symbols`) or drop (`symbols` files) defines them: contract size and
-- currencies for facts whose records carry none.
CREATE TABLE server_symbols (
    server_id        text        NOT NULL REFERENCES servers (server_id),
    symbol           text        NOT NULL,
    path             text,
    base_currency    text,
    profit_currency  text,
    margin_currency  text,
    contract_size    numeric,
    digits           integer,
    calc_mode        integer,
    learned_from     text        NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_id, symbol)
);

-- New streams: when the accounts, symbols and daily records were last read (their `last_success_at`).
ALTER TABLE sync_cursors DROP CONSTRAINT sync_cursors_stream_check,
    ADD CONSTRAINT sync_cursors_stream_check
        CHECK (stream IN ('deals', 'trades', 'open_trades', 'accounts', 'changes', 'symbols', 'daily'));
ALTER TABLE cursor_audit DROP CONSTRAINT cursor_audit_stream_check,
    ADD CONSTRAINT cursor_audit_stream_check
        CHECK (stream IN ('deals', 'trades', 'open_trades', 'accounts', 'changes', 'symbols', 'daily'));

-- The drop's new file types: `daily` records and `changes` (edits and deletions, bridge-protocol §7).
ALTER TABLE drop_files DROP CONSTRAINT drop_files_stream_check,
    ADD CONSTRAINT drop_files_stream_check
        CHECK (stream IN ('deals', 'trades', 'open-trades', 'accounts', 'symbols', 'daily', 'changes'));
