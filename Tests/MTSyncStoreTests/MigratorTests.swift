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
