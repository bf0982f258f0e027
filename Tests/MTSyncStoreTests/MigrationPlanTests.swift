import Foundation
import MTSyncStore
import Testing

@Suite("Migration files and the migration plan (pure)")
struct MigrationPlanTests {
    static func migration(_ version: Int, _ sql: String = "SELECT 1") throws -> Migration {
        try Migration(fileName: String(format: "%04d_step_%d.sql", version, version), sql: sql)
    }

    @Test("file names are NNNN_description.sql", arguments: [
        ("0001_initial.sql", 1, "initial"),
        ("0042_outbox_claim_index.sql", 42, "outbox_claim_index"),
        ("10000_far_future.sql", 10000, "far_future"),
    ])
    func acceptsWellNamedFiles(fileName: String, version: Int, name: String) throws {
        let migration = try Migration(fileName: fileName, sql: "SELECT 1")
        #expect(migration.version == version)
        #expect(migration.name == name)
    }

    @Test("badly named files are refused with the rule spelled out", arguments: [
        "001_short.sql", "0001-dash.sql", "0001_.sql", "0001_Upper.sql", "0001_initial.txt", "initial.sql", "0000_zero.sql",
    ])
    func refusesBadNames(fileName: String) {
        #expect {
            try Migration(fileName: fileName, sql: "SELECT 1")
        } throws: { error in
            (error as? MigrationError)?.code == .badFileName && "\(error)".contains("NNNN_description.sql")
        }
    }

    @Test("the checksum is the SHA-256 of the file text")
    func checksumIsSHA256() throws {
        // echo -n 'SELECT 1' | sha256sum
        #expect(try Migration(fileName: "0001_a.sql", sql: "SELECT 1").checksum
            == "e004ebd5b5532a4b85984a62f8ad48a81aa3460c1ca07701f386135d72cdecf5")
    }

    @Test("an empty database gets every migration, in version order")
    func emptyDatabaseGetsAll() throws {
        let known = [try Self.migration(2), try Self.migration(1), try Self.migration(3)]
        let plan = try MigrationPlan(known: known, applied: [])
        #expect(plan.pending.map(\.version) == [1, 2, 3])
        #expect(plan.currentVersion == 0)
    }

    @Test("a current database has nothing pending")
    func currentDatabaseHasNothingPending() throws {
        let known = [try Self.migration(1), try Self.migration(2)]
        let applied = known.map { AppliedMigration(version: $0.version, name: $0.name, checksum: $0.checksum) }
        let plan = try MigrationPlan(known: known, applied: applied)
        #expect(plan.pending.isEmpty)
        #expect(plan.currentVersion == 2)
    }

    @Test("an applied migration whose text changed is refused, naming the file")
    func editedMigrationRefused() throws {
        let original = try Self.migration(1, "CREATE TABLE a (id int)")
        let edited = try Self.migration(1, "CREATE TABLE a (id bigint)")
        let applied = [AppliedMigration(version: 1, name: original.name, checksum: original.checksum)]
        #expect {
            try MigrationPlan(known: [edited], applied: applied)
        } throws: { error in
            let error = error as? MigrationError
            return error?.code == .checksumMismatch && error?.message.contains(edited.fileName) == true
        }
    }

    @Test("a database migrated by a newer mtsync is refused")
    func newerDatabaseRefused() throws {
        let applied = [AppliedMigration(version: 7, name: "future", checksum: "abc")]
        #expect {
            try MigrationPlan(known: [try Self.migration(1)], applied: applied)
        } throws: { ($0 as? MigrationError)?.code == .unknownApplied }
    }

    @Test("a new migration numbered below an applied one is refused")
    func outOfOrderRefused() throws {
        let one = try Self.migration(1), two = try Self.migration(2), three = try Self.migration(3)
        let applied = [one, three].map { AppliedMigration(version: $0.version, name: $0.name, checksum: $0.checksum) }
        #expect {
            try MigrationPlan(known: [one, two, three], applied: applied)
        } throws: { ($0 as? MigrationError)?.code == .outOfOrder }
    }

    @Test("two files with one version are refused")
    func duplicateVersionRefused() throws {
        let first = try Migration(fileName: "0001_a.sql", sql: "SELECT 1")
        let second = try Migration(fileName: "0001_b.sql", sql: "SELECT 2")
        #expect {
            try MigrationPlan(known: [first, second], applied: [])
        } throws: { ($0 as? MigrationError)?.code == .duplicateVersion }
    }

    @Test("the binary embeds exactly the files in migrations/, byte for byte")
    func embeddedMatchesFolder() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../migrations").standardizedFileURL
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        let embedded = try Migration.embedded()
        #expect(embedded.map(\.fileName) == files)
        for migration in embedded {
            let onDisk = try String(contentsOf: folder.appending(path: migration.fileName), encoding: .utf8)
            #expect(migration.sql == onDisk, "\(migration.fileName) differs from its embedded copy")
        }
    }
}
