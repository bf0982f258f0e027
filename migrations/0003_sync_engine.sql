-- 0003: what the sync engine needs beyond 0001.
--
-- source_records: one row per raw record the bridge served (MT5 deal, MT4 closed trade record), whatever became
-- of it: stored as facts, skipped by a filter or a rule, or quarantined. Reconcile compares the bridge's
-- per-bucket digest (bridge-protocol/README.md §4.7) with these rows, so a filtered demo deal or a quarantined
-- record does not look missing. `digest_part` is the first 8 bytes of the SHA-256 of the record's canonical line
-- as a signed bigint (two's complement of the unsigned value); a bucket's checksum is the sum modulo 2^64.
CREATE TABLE source_records (
    server_id        text     NOT NULL REFERENCES servers (server_id),
    stream           text     NOT NULL CHECK (stream IN ('deals', 'trades')),
    ticket           bigint   NOT NULL,
    server_time_msc  bigint   NOT NULL,
    digest_part      bigint   NOT NULL,
    volume           numeric  NOT NULL DEFAULT 0,
    outcome          text     NOT NULL CHECK (outcome IN ('stored', 'skipped', 'quarantined')),
    seen_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_id, stream, ticket)
);

-- Reconcile sums a server's records per time bucket.
CREATE INDEX source_records_time ON source_records (server_id, stream, server_time_msc);
