import ArgumentParser
import MTSyncStore

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations (or list them with --status).",
        discussion: """
            Each migration runs in its own transaction and is recorded with its SHA-256 in schema_migrations. \
            Several instances may run this at once: an advisory lock makes the others wait, then find nothing to do. \
            An applied migration whose file has since changed is refused (exit 65).
            """
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    @Flag(name: .long, help: "List applied and pending migrations; change nothing.")
    var status = false

    @Option(name: .long, help: "Seconds to wait for another migrator's lock before giving up (exit 75).")
    var lockTimeout: Int = 60

    func run() async throws {
        do {
            let migrator = try Migrator.embedded(lockTimeout: .seconds(lockTimeout))
            let connection = try await database.connect()
            if status {
                try await printStatus(try await migrator.status(on: connection))
            } else {
                let applied = try await migrator.migrate(on: connection)
                let version = try await migrator.status(on: connection).currentVersion
                if output.json {
                    JSONOutput.print(MigrateReport(applied: applied.map { .init(version: $0.version, name: $0.name) }, schemaVersion: version))
                } else if applied.isEmpty {
                    print("Schema is current at version \(version); nothing to apply.")
                } else {
                    for migration in applied { print("applied \(String(format: "%04d", migration.version))_\(migration.name)") }
                    print("Schema is now at version \(version).")
                }
            }
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
    }

    private func printStatus(_ status: MigrationStatus) async throws {
        if output.json {
            JSONOutput.print(MigrationStatusReport(
                currentVersion: status.currentVersion,
                latestVersion: status.latestKnownVersion,
                applied: status.applied,
                pending: status.pending.map { .init(version: $0.version, name: $0.name) },
                problem: status.problem?.description
            ))
        } else {
            print("Schema version \(status.currentVersion) of \(status.latestKnownVersion).")
            for migration in status.applied {
                print("  applied  \(String(format: "%04d", migration.version))_\(migration.name)  \(migration.appliedAt ?? "")")
            }
            for migration in status.pending {
                print("  pending  \(migration.fileName)")
            }
            if let problem = status.problem { print("Problem: \(problem)") }
        }
        if let problem = status.problem { throw problem }
    }
}

struct MigrationSummary: Encodable {
    let version: Int
    let name: String
}

struct MigrateReport: Encodable {
    let applied: [MigrationSummary]
    let schemaVersion: Int
}

struct MigrationStatusReport: Encodable {
    let currentVersion: Int
    let latestVersion: Int
    let applied: [AppliedMigration]
    let pending: [MigrationSummary]
    let problem: String?
}
