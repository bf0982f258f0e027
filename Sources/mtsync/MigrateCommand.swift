import ArgumentParser
import Foundation
import MTSyncCore
import MTSyncStore

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations (or list them with --status).",
        discussion: """
            Each migration runs in its own transaction and is recorded with its SHA-256 in schema_migrations. \
            Several instances may run this at once: an advisory lock makes the others wait, then find nothing to do. \
            An applied migration whose file has since changed is refused (exit 65). \
            Then it makes the monthly partitions of the fact table ahead of time (the current month and the next \
            --partitions-ahead months, every month from --partitions-from, and the months of facts waiting in the \
            default partition): run it as the database owner, and again at least once a year (monthly from cron is \
            safe) when the daemon's role may not create tables. --grant-runtime ROLE then grants ROLE what the \
            daemon needs and nothing more (docs/security.md, "Least privilege").
            """
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    @Flag(name: .long, help: "List applied and pending migrations; change nothing.")
    var status = false

    @Option(name: .long, help: "Seconds to wait for another migrator's lock before giving up (exit 75).")
    var lockTimeout: Int = 60

    @Option(name: .long, help: "Months after the current one to make fact partitions for.")
    var partitionsAhead: Int = FactPartitions.defaultMonthsAhead

    @Option(name: .long, help: "Also make the fact partitions of every month from this one (YYYY-MM, UTC) to now: the earliest servers' start.")
    var partitionsFrom: String?

    @Option(name: .long, help: "Grant this existing role the row privileges the daemon needs (no CREATE), after migrating.")
    var grantRuntime: String?

    func validate() throws {
        guard (0...1200).contains(partitionsAhead) else { throw ValidationError("--partitions-ahead must be 0 to 1200 months, not \(partitionsAhead)") }
        if let partitionsFrom, Self.month(partitionsFrom) == nil {
            throw ValidationError("--partitions-from must be a month YYYY-MM from 2000-01 on, such as 2024-01, not \(partitionsFrom)")
        }
    }

    /// The first instant (UTC ms) of `YYYY-MM`, from 2000-01 (`FactPartitions.earliestMilliseconds`) to 2999-12.
    static func month(_ text: String) -> Int64? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, parts.allSatisfy({ $0.allSatisfy(\.isNumber) }),
            let year = Int64(parts[0]), let month = Int64(parts[1]), (2000...2999).contains(year), (1...12).contains(month)
        else { return nil }
        return CivilDate.days(year: year, month: month, day: 1) * 86_400_000
    }

    func run() async throws {
        do {
            let migrator = try Migrator.embedded(lockTimeout: .seconds(lockTimeout))
            let connection = try await database.connect()
            if status {
                try await printStatus(try await migrator.status(on: connection))
            } else {
                let applied = try await migrator.migrate(on: connection)
                let version = try await migrator.status(on: connection).currentVersion
                let partitions = try await FactPartitions.upkeep(monthsAhead: partitionsAhead, from: partitionsFrom.flatMap(Self.month), on: connection)
                var grant: String?
                if let grantRuntime { grant = try await RuntimeRole.grant(to: grantRuntime, on: connection) }
                if output.json {
                    JSONOutput.print(MigrateReport(
                        applied: applied.map { .init(version: $0.version, name: $0.name) }, schemaVersion: version, partitions: partitions,
                        grantedRuntimeRole: grantRuntime))
                } else {
                    if applied.isEmpty {
                        print("Schema is current at version \(version); nothing to apply.")
                    } else {
                        for migration in applied { print("applied \(String(format: "%04d", migration.version))_\(migration.name)") }
                        print("Schema is now at version \(version).")
                    }
                    if !partitions.created.isEmpty {
                        print("made fact partitions \(partitions.created.joined(separator: " "))\(partitions.movedRows > 0 ? " (\(partitions.movedRows) fact(s) moved in from trading_facts_default)" : "")")
                    }
                    if let horizon = partitions.horizon {
                        print("Fact partitions end before \(horizon.endMonth) (\(horizon.monthsAhead) month(s) ahead of this one).")
                    }
                    if let grantRuntime, let grant {
                        print("granted \(grantRuntime) the runtime privileges:")
                        for line in grant.split(separator: "\n") { print("  \(line.trimmingCharacters(in: .whitespaces))") }
                    }
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
    let partitions: FactPartitions.UpkeepReport
    let grantedRuntimeRole: String?
}

struct MigrationStatusReport: Encodable {
    let currentVersion: Int
    let latestVersion: Int
    let applied: [AppliedMigration]
    let pending: [MigrationSummary]
    let problem: String?
}
