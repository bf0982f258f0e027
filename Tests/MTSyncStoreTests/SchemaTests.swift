import Foundation
import MTSyncCore
import MTSyncStore
import MTSyncTestSupport
import Testing

@Suite("The initial schema")
struct SchemaTests {
    @Test("every sync stream the core names is accepted by the cursor table")
    func cursorStreamsMatchCore() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        try await connection.query("INSERT INTO servers (server_id, platform, time_zone) VALUES ('live-mt5', 'mt5', 'Europe/Athens')")
        for stream in SyncStream.allCases {
            try await connection.query("INSERT INTO sync_cursors (server_id, stream) VALUES ('live-mt5', \(stream.rawValue))")
        }
        await #expect(throws: PostgresError.self) {
            try await connection.query("INSERT INTO sync_cursors (server_id, stream) VALUES ('live-mt5', 'bogus')")
        }
    }

    @Test("server ids follow the same rule in the core and in the database", arguments: [
        ("live-mt5", true), ("mt4.demo_2", true), ("9", true), ("-leading-dash", false), ("has space", false), ("", false),
        (String(repeating: "x", count: 64), true), (String(repeating: "x", count: 65), false), ("ünï", false),
    ])
    func serverIDRuleMatches(candidate: String, valid: Bool) async throws {
        #expect(ServerID.isValid(candidate) == valid)
        let (_, connection) = try await TestDatabase.migrated()
        let accepted: Bool
        do {
            try await connection.query("INSERT INTO servers (server_id, platform, time_zone) VALUES (\(candidate), 'mt4', '+02:00')")
            accepted = true
        } catch {
            #expect(error.sqlState == "23514")
            accepted = false
        }
        #expect(accepted == valid)
    }

    @Test("monthly fact partitions are created on demand, idempotently, and facts land in their month")
    func monthlyPartitions() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        let created = try await connection.query("SELECT ensure_trading_fact_partitions('2025-11-15T10:00:00Z', '2026-02-01T00:00:00Z')")[0].decode(Int.self, 0)
        #expect(created == 4)
        let again = try await connection.query("SELECT ensure_trading_fact_partitions('2025-12-01T00:00:00Z', '2026-01-31T23:59:59Z')")[0].decode(Int.self, 0)
        #expect(again == 0)

        try await connection.query("INSERT INTO servers (server_id, platform, time_zone) VALUES ('live-mt5', 'mt5', 'Europe/Athens')")
        try await connection.query("""
            INSERT INTO fact_identities (server_id, ticket, content_hash, time_utc)
            VALUES ('live-mt5', 9007199254740993, '\\x00', '2026-01-31T23:59:59.999Z')
            """)
        try await connection.query("""
            INSERT INTO trading_facts (fact_id, time_utc, server_id, platform, login, ticket, leg, revision, kind,
                server_time_msc, zone, lots, content_hash, idempotency_key)
            SELECT fact_id, time_utc, server_id, 'mt5', 1001, ticket, leg, revision, 'trade',
                1769910000000, 'Europe/Athens', 0.01, content_hash, 'live-mt5:9007199254740993:1'
            FROM fact_identities
            """)
        let partition = try await connection.query("SELECT tableoid::regclass::text FROM trading_facts")[0].decode(String.self, 0)
        #expect(partition == "trading_facts_2026_01")
        #expect(try await connection.query("SELECT count(*) FROM trading_facts_default")[0].decode(Int.self, 0) == 0)
    }

    @Test("status reports the schema version and exact counts; before migrating it says what to run")
    func storeStatus() async throws {
        let database = try await TestDatabase.create()
        let connection = try await database.connect()
        let migrator = try Migrator.embedded()
        let before = try await StoreStatus.read(on: connection, migrator: migrator)
        #expect(before.schemaVersion == 0)
        #expect(before.pendingMigrations == migrator.migrations.count)
        #expect(before.tables.isEmpty)
        #expect(before.warnings.contains { $0.contains("mtsync migrate") })

        try await migrator.migrate(on: connection)
        try await connection.query("INSERT INTO servers (server_id, platform, time_zone) VALUES ('a', 'mt4', 'ny-close'), ('b', 'mt5', 'UTC')")
        let after = try await StoreStatus.read(on: connection, migrator: migrator)
        #expect(after.schemaVersion == migrator.migrations.last?.version)
        #expect(after.pendingMigrations == 0)
        #expect(after.warnings.isEmpty)
        #expect(after.tables.first { $0.table == "servers" } == .init(table: "servers", rows: 2, exact: true))
        #expect(after.tables.map(\.table) == ["servers", "sync_cursors", "fact_identities", "trading_facts", "outbox", "quarantine", "drop_files", "jobs"])
    }
}
