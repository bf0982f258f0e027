-- 0002: the CSV drop files mtsync has taken (bridge-protocol/README.md §7.4).
--
-- A file is taken in one transaction that stores its records, quarantines its bad rows and inserts its row
-- here, so "taken" and "stored" cannot disagree after a crash. A file found again with the same name and the
-- same SHA-256 is a duplicate (moved aside, nothing stored twice); the same name with other content is refused.
CREATE TABLE drop_files (
    server_id     text        NOT NULL REFERENCES servers (server_id),
    file_name     text        NOT NULL,
    sha256        bytea       NOT NULL CHECK (length(sha256) = 32),
    stream        text        NOT NULL
                  CHECK (stream IN ('deals', 'trades', 'open-trades', 'accounts', 'symbols')),
    -- Data rows in the file (header excluded) and how many of them went to quarantine.
    rows          bigint      NOT NULL CHECK (rows >= 0),
    quarantined   bigint      NOT NULL DEFAULT 0 CHECK (quarantined >= 0),
    taken_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_id, file_name)
);
