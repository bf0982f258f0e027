/// The grants of the role the daemon and the one-shot sync commands run as, when they do not run as the owner of the
/// schema (docs/security.md, "Least privilege"): rows only. No CREATE anywhere, no ownership, no TRUNCATE, no
/// REFERENCES or TRIGGER, and `schema_migrations` read-only. Since migration 0012 the store makes no partition in
/// a page, so this is all `mtsync run` needs; the owner runs `mtsync migrate`, which also makes the partitions ahead.
///
/// What stays PostgreSQL's default and is needed: TEMPORARY on the database (each connection's staging tables) and
/// EXECUTE on functions, which PUBLIC has (the page store calls `trading_fact_partitions_end()`; the functions
/// that create partitions run with the caller's rights, so the runtime role cannot create anything through them).
public enum RuntimeRole {
    /// The statements that grant `role` what it needs on the current database and schema, and — through the
    /// owner's default privileges — on every table, sequence and partition the owner creates later.
    public static func grantScript(role: String, database: String, schema: String) -> String {
        let script: PostgresQuery = """
            GRANT CONNECT, TEMPORARY ON DATABASE \(identifier: database) TO \(identifier: role);
            GRANT USAGE ON SCHEMA \(identifier: schema) TO \(identifier: role);
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \(identifier: schema) TO \(identifier: role);
            GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA \(identifier: schema) TO \(identifier: role);
            REVOKE INSERT, UPDATE, DELETE ON TABLE \(identifier: schema).schema_migrations FROM \(identifier: role);
            ALTER DEFAULT PRIVILEGES IN SCHEMA \(identifier: schema) GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO \(identifier: role);
            ALTER DEFAULT PRIVILEGES IN SCHEMA \(identifier: schema) GRANT USAGE, SELECT ON SEQUENCES TO \(identifier: role);
            """
        return script.sql
    }

    /// Grants `role` (which must exist) the runtime privileges on the connected database's current schema. Run it
    /// as the owner, after `migrate`; running it again changes nothing.
    /// - Returns: the statements run, for the operator to read.
    @discardableResult
    public static func grant(to role: String, on connection: PostgresConnection) async throws -> String {
        let rows = try await connection.query("SELECT current_database(), current_schema()", name: "find the database and schema")
        let script = grantScript(role: role, database: try rows[0].decode(String.self, 0), schema: try rows[0].decode(String.self, 1))
        try await connection.run { connection in
            try connection.transaction(name: "grant the runtime role") { connection in
                try connection.execute(script: script, name: "grant the runtime role")
            }
        }
        return script
    }
}
