import Foundation
import MTSyncStore
import MTSyncTestSupport
import Testing

@Suite("Migrator against a real server")
struct MigratorTests {
    static let expectedTables = ["servers", "sync_cursors", "fact_identities", "trading_facts", "outbox", "quarantine", "drop_files", "jobs", "job_chunks", "schema_migrations"]

    static func tables(_ connection: PostgresConnection) async throws -> Set<String> {
        let rows = try await connection.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return Set(try rows.map { try $0.decode(String.self, 0) })
    }

    static func appliedCount(_ connection: PostgresConnection) async throws -> Int {
        try await connection.query("SELECT count(*) FROM schema_migrations")[0].decode(Int.self, 0)
    }

    @Test("migrate on an empty database creates the whole schema and records each file with its checksum")
    func migrateEmpty() async throws {
        let connection = try await TestDatabase.create().connect()
        let migrator = try Migrator.embedded()
        let applied = try await migrator.migrate(on: connection)
        #expect(applied.map(\.version) == migrator.migrations.map(\.version))
        #expect(try await Self.tables(connection).isSuperset(of: Self.expectedTables))
        let recorded = try await connection.query("SELECT version, checksum FROM schema_migrations ORDER BY version")
        #expect(try recorded.map { try $0.decode(String.self, 1) } == migrator.migrations.map(\.checksum))
        let status = try await migrator.status(on: connection)
        #expect(status.pending.isEmpty)
        #expect(status.problem == nil)
        #expect(status.currentVersion == migrator.migrations.last?.version)
    }

    /// Issue 23: 0015 moves the outbox's payload from `jsonb` to `json` (the text mtsync writes). A store upgraded
    /// with `mtsync migrate` keeps every pending event's payload, as the same JSON value, readable as before.
    @Test("upgrading a store with pending events to 0015 keeps each payload's value; the relay reads it as before")
    func outboxPayloadUpgrade() async throws {
        let connection = try await TestDatabase.create().connect()
        let all = try Migrator.embedded().migrations
        try await Migrator(migrations: all.filter { $0.version < 15 }).migrate(on: connection)
        let payload = #"{"server": "live-mt5", "login": 18446744073709551, "lots": "0.10", "comment": "q\"b\\ \u0001 €", "deleted": false}"#
        try await connection.query("""
            INSERT INTO outbox (server_id, event_kind, idempotency_key, payload) VALUES ('live-mt5', 'fact.created', 'live-mt5:1:1', \(payload)::jsonb)
            """)
        let before = try await connection.query("SELECT payload::text FROM outbox")[0].decode(String.self, 0)

        try await Migrator(migrations: all).migrate(on: connection)
        let type = try await connection.query("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'outbox'::regclass AND attname = 'payload'")
        #expect(try type[0].decode(String.self, 0) == "json")
        let after = try await connection.query("SELECT payload::text, (payload ->> 'login')::bigint, payload::jsonb = \(before)::jsonb FROM outbox")[0]
        #expect(try after.decode(String.self, 0) == before, "the stored text is the jsonb's text, unchanged")
        #expect(try after.decode(Int64.self, 1) == 18_446_744_073_709_551)
        #expect(try after.decode(Bool.self, 2))
    }

    @Test("migrate twice: the second run applies nothing")
    func migrateTwice() async throws {
        let connection = try await TestDatabase.create().connect()
        let migrator = try Migrator.embedded()
        try await migrator.migrate(on: connection)
        let second = try await migrator.migrate(on: connection)
        #expect(second.isEmpty)
        #expect(try await Self.appliedCount(connection) == migrator.migrations.count)
    }

    @Test("an applied migration edited afterwards is refused, and nothing else is applied")
    func editedMigrationRefused() async throws {
        let connection = try await TestDatabase.create().connect()
        let original = try Migration(fileName: "0001_first.sql", sql: "CREATE TABLE first (id int);")
        try await Migrator(migrations: [original]).migrate(on: connection)

        let edited = try Migration(fileName: "0001_first.sql", sql: "CREATE TABLE first (id bigint);")
        let second = try Migration(fileName: "0002_second.sql", sql: "CREATE TABLE second (id int);")
        let error = await #expect(throws: MigrationError.self) {
            try await Migrator(migrations: [edited, second]).migrate(on: connection)
        }
        #expect(error?.code == .checksumMismatch)
        #expect(error?.message.contains("0001_first.sql") == true)
        #expect(!(try await Self.tables(connection).contains("second")))
        let status = try await Migrator(migrations: [edited, second]).status(on: connection)
        #expect(status.problem?.code == .checksumMismatch)
    }

    @Test("a failing migration is rolled back whole; the ones before it stay applied")
    func failingMigrationRollsBack() async throws {
        let connection = try await TestDatabase.create().connect()
        let good = try Migration(fileName: "0001_good.sql", sql: "CREATE TABLE good (id int);")
        let bad = try Migration(fileName: "0002_bad.sql", sql: "CREATE TABLE half (id int);\nCREATE TABLE broken (id no_such_type);")
        let error = await #expect(throws: PostgresError.self) {
            try await Migrator(migrations: [good, bad]).migrate(on: connection)
        }
        #expect(error?.statement == "migration 0002_bad.sql")
        #expect(error?.sqlState == "42704")
        let tables = try await Self.tables(connection)
        #expect(tables.contains("good"))
        #expect(!tables.contains("half"), "the failed migration left nothing behind")
        #expect(try await Self.appliedCount(connection) == 1)
    }

    @Test("two migrators racing on one database apply each migration exactly once")
    func concurrentMigrators() async throws {
        let database = try await TestDatabase.create()
        // Slow migrations widen the window in which the two would collide without the lock.
        let migrations = try (1...3).map { step in
            try Migration(fileName: String(format: "%04d_slow_%d.sql", step, step), sql: "SELECT pg_sleep(0.3); CREATE TABLE slow_\(step) (id int);")
        }
        let first = try await database.connect()
        let second = try await database.connect()
        async let appliedByFirst = Migrator(migrations: migrations).migrate(on: first)
        async let appliedBySecond = Migrator(migrations: migrations).migrate(on: second)
        let (a, b) = try await (appliedByFirst, appliedBySecond)
        #expect(a.count + b.count == 3, "each migration was applied by exactly one of them")
        #expect(a.isEmpty || b.isEmpty, "the lock serializes whole runs")
        #expect(try await Self.appliedCount(first) == 3)
    }

    @Test("a migrator that cannot get the lock in time gives up with a clear, retryable error")
    func lockTimeout() async throws {
        let database = try await TestDatabase.create()
        let holder = try await database.connect()
        try await holder.query("SELECT pg_advisory_lock(\(Int64(0x6D74_7379_6E63_6D67)))")
        let waiter = try await database.connect()
        let error = await #expect(throws: MigrationError.self) {
            try await Migrator(migrations: try Migration.embedded(), lockTimeout: .seconds(1)).migrate(on: waiter)
        }
        #expect(error?.code == .lockTimeout)
        try await holder.query("SELECT pg_advisory_unlock_all()")
        // The waiter's session is clean afterwards: lock_timeout was reset, and migrating now works.
        #expect(try await waiter.query("SHOW lock_timeout")[0].decode(String.self, 0) == "0")
        try await Migrator.embedded().migrate(on: waiter)
    }
}
