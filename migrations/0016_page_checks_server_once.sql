-- 0016: a page checks its server once, not once per row (issue 23).
--
-- fact_identities and source_records get one row per fact and per raw record; their foreign key to servers ran a
-- referential-integrity check for each row (~5 µs of the page's transaction per row and table, measured: 200 000
-- inserts into a keyed table took 1.5 s with the key, 0.45 s without). The rule stays: `FactStore.store` reads
-- the server's row once per page (FOR KEY SHARE, as the check did) and refuses a page of an unregistered server
-- (StoreRefusal "unknown server") before writing anything. Servers are never deleted.
--
-- Downgrade: ALTER TABLE fact_identities ADD FOREIGN KEY (server_id) REFERENCES servers (server_id); the same for
-- source_records (both validate existing rows).
ALTER TABLE fact_identities DROP CONSTRAINT fact_identities_server_id_fkey;
ALTER TABLE source_records DROP CONSTRAINT source_records_server_id_fkey;
