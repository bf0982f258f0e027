import Foundation
import MTSyncCore

/// Applies pending migrations to a database, safely when several mtsync instances start at once.
///
/// Each migration runs in its own transaction together with the insert of its `schema_migrations` row, so it
/// is applied entirely and recorded, or not at all. The whole run holds a session-level advisory lock: a second
/// migrator waits (up to `lockTimeout`), then finds nothing left to do.
public struct Migrator: Sendable {
    /// Arbitrary but fixed key for `pg_advisory_lock`: the ASCII bytes of "mtsync" followed by "mg".
    static let advisoryLockKey: Int64 = 0x6D74_7379_6E63_6D67

    public let migrations: [Migration]
    public let lockTimeout: Duration

    public init(migrations: [Migration], lockTimeout: Duration = .seconds(60)) {
        self.migrations = migrations
        self.lockTimeout = lockTimeout
    }

    /// The migrations compiled into this build.
    public static func embedded(lockTimeout: Duration = .seconds(60)) throws(MigrationError) -> Migrator {
        Migrator(migrations: try Migration.embedded(), lockTimeout: lockTimeout)
    }

    /// What is applied and what is pending, without changing anything. A disagreement between files and
    /// database is reported in `problem` rather than thrown, so `migrate --status` can still show the lists.
    public func status(on connection: PostgresConnection) async throws -> MigrationStatus {
        let applied = try await connection.run { connection in try Self.readApplied(connection) }
        do {
            let plan = try MigrationPlan(known: migrations, applied: applied)
            return MigrationStatus(known: migrations, applied: applied, pending: plan.pending, problem: nil)
        } catch {
            let appliedVersions = Set(applied.map(\.version))
            return MigrationStatus(known: migrations, applied: applied, pending: migrations.filter { !appliedVersions.contains($0.version) }, problem: error)
        }
    }

    /// Applies every pending migration in version order.
    /// - Returns: the migrations applied by this call (empty when the database was already current).
    /// - Throws: `MigrationError` when files and database disagree or the lock was not acquired;
    ///   `PostgresError` when a migration's SQL fails (that migration is rolled back, earlier ones stay).
    @discardableResult
    public func migrate(on connection: PostgresConnection) async throws -> [AppliedMigration] {
        let migrations = self.migrations
        let lockTimeoutMilliseconds = lockTimeout.wholeMilliseconds
        return try await connection.run { connection in
            try Self.applyPending(migrations, on: connection, lockTimeoutMilliseconds: lockTimeoutMilliseconds)
        }
    }

    private static func applyPending(
        _ migrations: [Migration], on connection: isolated PostgresConnection, lockTimeoutMilliseconds: Int64
    ) throws -> [AppliedMigration] {
        try acquireLock(connection, timeoutMilliseconds: lockTimeoutMilliseconds)
        defer { releaseLock(connection) }

        try connection.execute(script: """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer     PRIMARY KEY,
                name        text        NOT NULL,
                checksum    text        NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now(),
                duration_ms integer     NOT NULL,
                applied_by  text        NOT NULL DEFAULT current_user
            )
            """, name: "create schema_migrations")
        let plan = try MigrationPlan(known: migrations, applied: try readApplied(connection))
        var appliedNow: [AppliedMigration] = []
        for migration in plan.pending {
            try connection.transaction(name: "migration \(migration.fileName)") { connection in
                try apply(migration, on: connection)
            }
            appliedNow.append(AppliedMigration(version: migration.version, name: migration.name, checksum: migration.checksum))
        }
        return appliedNow
    }

    /// Runs one migration's SQL and records it; the caller wraps both in one transaction.
    private static func apply(_ migration: Migration, on connection: isolated PostgresConnection) throws {
        let started = ContinuousClock.now
        try connection.execute(script: migration.sql, name: "migration \(migration.fileName)")
        let durationMilliseconds = (ContinuousClock.now - started).wholeMilliseconds
        try connection.query("""
            INSERT INTO schema_migrations (version, name, checksum, duration_ms)
            VALUES (\(migration.version), \(migration.name), \(migration.checksum), \(durationMilliseconds))
            """, name: "record migration \(migration.fileName)")
    }

    private static func releaseLock(_ connection: isolated PostgresConnection) {
        // If this fails the connection is gone, and the server released the session's lock with it.
        _ = try? connection.query("SELECT pg_advisory_unlock(\(advisoryLockKey))", name: "release migration lock")
    }

    private static func acquireLock(_ connection: isolated PostgresConnection, timeoutMilliseconds: Int64) throws {
        // lock_timeout bounds the wait for the advisory lock; it is reset at once so that it does not also
        // bound the migrations' own DDL.
        try connection.execute(script: "SET lock_timeout = \(max(timeoutMilliseconds, 1))", name: "set migration lock timeout")
        let lockResult = Result { () throws(PostgresError) in
            try connection.query("SELECT pg_advisory_lock(\(advisoryLockKey))", name: "acquire migration lock")
        }
        try connection.execute(script: "RESET lock_timeout", name: "reset lock timeout")
        if case .failure(let error) = lockResult {
            guard error.sqlState == "55P03" else { throw error }
            throw MigrationError(code: .lockTimeout, message: "another mtsync has been migrating this database for over \(timeoutMilliseconds / 1000) s; wait for it to finish, or find it in pg_stat_activity (application_name mtsync)")
        }
    }

    static func readApplied(_ connection: isolated PostgresConnection) throws -> [AppliedMigration] {
        let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL", name: "find schema_migrations")
        guard try exists[0].decode(Bool.self, 0) else { return [] }
        let rows = try connection.query("""
            SELECT version, name, checksum, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            FROM schema_migrations ORDER BY version
            """, name: "read schema_migrations")
        return try rows.map { row in
            AppliedMigration(version: try row.decode(Int.self, 0), name: try row.decode(String.self, 1), checksum: try row.decode(String.self, 2), appliedAt: try row.decode(String?.self, 3))
        }
    }
}

/// The answer to `mtsync migrate --status`.
public struct MigrationStatus: Sendable {
    public let known: [Migration]
    public let applied: [AppliedMigration]
    public let pending: [Migration]
    /// Set when the files and the database disagree (an edited applied file, a newer database, …).
    public let problem: MigrationError?

    public var currentVersion: Int { applied.map(\.version).max() ?? 0 }
    public var latestKnownVersion: Int { known.map(\.version).max() ?? 0 }
}
