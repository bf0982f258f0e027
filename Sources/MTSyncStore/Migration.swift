import Crypto
import Foundation

/// One numbered schema change from `migrations/`, e.g. `0002_outbox_claim_index.sql`.
///
/// The files are compiled into mtsync (see the EmbedMigrations plugin), so the binary always carries exactly
/// the schema it was built for. Each is applied once, in its own transaction, and recorded with the SHA-256 of
/// its text: an applied file that later changes is refused instead of silently diverging.
public struct Migration: Sendable, Hashable {
    public let version: Int
    /// The descriptive part of the file name (`initial` for `0001_initial.sql`).
    public let name: String
    public let fileName: String
    public let sql: String
    /// Lower-case hex SHA-256 of the file's UTF-8 text.
    public let checksum: String

    /// Parses `NNNN_description.sql` (four or more digits, then `_`, then letters, digits and `_`).
    public init(fileName: String, sql: String) throws(MigrationError) {
        let stem = fileName.hasSuffix(".sql") ? String(fileName.dropLast(4)) : ""
        let parts = stem.split(separator: "_", maxSplits: 1)
        guard parts.count == 2, parts[0].count >= 4, parts[0].allSatisfy(\.isASCIIDigit),
            let version = Int(parts[0]), version > 0,
            !parts[1].isEmpty, parts[1].allSatisfy({ $0.isASCIIDigit || $0 == "_" || ("a"..."z").contains($0) })
        else {
            throw MigrationError(code: .badFileName, message: "migration file \(String(reflecting: fileName)) is not named NNNN_description.sql (four or more digits, then lower-case letters, digits and _)")
        }
        self.version = version
        self.name = String(parts[1])
        self.fileName = fileName
        self.sql = sql
        self.checksum = SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The migrations compiled into this build, in version order.
    public static func embedded() throws(MigrationError) -> [Migration] {
        var migrations: [Migration] = []
        for file in EmbeddedMigrationFiles.all {
            migrations.append(try Migration(fileName: file.fileName, sql: file.sql))
        }
        return migrations.sorted { $0.version < $1.version }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

/// A migration as recorded in the database's `schema_migrations` table.
public struct AppliedMigration: Sendable, Hashable, Codable {
    public let version: Int
    public let name: String
    public let checksum: String
    /// ISO 8601 (UTC), as the server recorded it.
    public let appliedAt: String?

    public init(version: Int, name: String, checksum: String, appliedAt: String? = nil) {
        self.version = version
        self.name = name
        self.checksum = checksum
        self.appliedAt = appliedAt
    }
}

/// Why migrating cannot go ahead. Each says what is wrong and what the operator should do.
public struct MigrationError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        /// A file in migrations/ is not named `NNNN_description.sql`.
        public static let badFileName = Code("bad migration file name")
        /// Two files share a version number.
        public static let duplicateVersion = Code("duplicate migration version")
        /// An already-applied migration's text has changed since it was applied.
        public static let checksumMismatch = Code("applied migration was edited")
        /// The database has a migration this build does not know: it was migrated by a newer mtsync.
        public static let unknownApplied = Code("database is newer than this mtsync")
        /// A pending migration is numbered below one already applied.
        public static let outOfOrder = Code("migration out of order")
        /// Another migrator held the lock for longer than the lock timeout.
        public static let lockTimeout = Code("migration lock not acquired")
        public var description: String { name }
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
