/// What `migrate` would do, decided from the migrations this build knows and those the database has applied.
/// Pure: no database, so every refusal rule is tested exhaustively without one.
public struct MigrationPlan: Sendable, Equatable {
    public let applied: [AppliedMigration]
    /// Known migrations not yet applied, in version order.
    public let pending: [Migration]

    /// The highest applied version, 0 for an empty database.
    public var currentVersion: Int { applied.map(\.version).max() ?? 0 }

    /// - Throws: `MigrationError` when the files and the database disagree in a way only a person can settle:
    ///   duplicate versions, an applied file edited afterwards, a database migrated by a newer mtsync, or a new
    ///   file numbered below the newest applied one.
    public init(known: [Migration], applied: [AppliedMigration]) throws(MigrationError) {
        var knownByVersion: [Int: Migration] = [:]
        for migration in known {
            if let other = knownByVersion[migration.version] {
                throw MigrationError(code: .duplicateVersion, message: "\(other.fileName) and \(migration.fileName) share version \(migration.version); renumber one of them")
            }
            knownByVersion[migration.version] = migration
        }
        for record in applied.sorted(by: { $0.version < $1.version }) {
            guard let migration = knownByVersion[record.version] else {
                throw MigrationError(code: .unknownApplied, message: "the database has migration \(record.version) (\(record.name)), which this mtsync does not have; it was migrated by a newer mtsync — run that version, or restore a matching backup")
            }
            guard migration.checksum == record.checksum else {
                throw MigrationError(code: .checksumMismatch, message: "\(migration.fileName) was changed after it was applied (checksum in database \(record.checksum.prefix(12))…, in this build \(migration.checksum.prefix(12))…); restore the original file and put the change in a new numbered migration")
            }
        }
        let appliedVersions = Set(applied.map(\.version))
        let pending = known.filter { !appliedVersions.contains($0.version) }.sorted { $0.version < $1.version }
        let newestApplied = applied.map(\.version).max() ?? 0
        if let early = pending.first, early.version < newestApplied {
            throw MigrationError(code: .outOfOrder, message: "\(early.fileName) is not applied but migration \(newestApplied) already is; give it a number above \(newestApplied)")
        }
        self.applied = applied.sorted { $0.version < $1.version }
        self.pending = pending
    }
}
