import ArgumentParser
import MTSyncCore
import MTSyncStore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the schema version and how many rows each table holds.",
        discussion: "Large tables (over a million rows) show PostgreSQL's estimate, marked as such, instead of a slow exact count."
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        do {
            let connection = try await database.connect()
            let status = try await StoreStatus.read(on: connection, migrator: try Migrator.embedded())
            if output.json {
                JSONOutput.print(StatusReport(mtsyncVersion: BuildInfo.version, database: database.configuration.description, store: status))
            } else {
                print("mtsync \(BuildInfo.version) — database \(database.configuration)")
                print("Schema version \(status.schemaVersion) of \(status.latestKnownVersion)\(status.pendingMigrations > 0 ? " (\(status.pendingMigrations) pending)" : "")")
                if !status.tables.isEmpty {
                    let width = status.tables.map(\.table.count).max() ?? 0
                    for table in status.tables {
                        let name = table.table.padding(toLength: width, withPad: " ", startingAt: 0)
                        print("  \(name)  \(table.exact ? "" : "~")\(table.rows)")
                    }
                }
                for warning in status.warnings { print("Warning: \(warning)") }
            }
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
    }
}

struct StatusReport: Encodable {
    let mtsyncVersion: String
    let database: String
    let store: StoreStatus
}
