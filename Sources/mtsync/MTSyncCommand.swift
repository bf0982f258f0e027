import ArgumentParser
import MTSyncApp
import MTSyncCore

@main
struct MTSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mtsync",
        abstract: "MetaTrader sync bridge: MT4/MT5 deals into PostgreSQL and on to the loyalty ingest.",
        discussion: """
            Exit codes: 0 ok; 1 unexpected error; 64 usage error; 65 migrations and database disagree \
            (a person must decide); 69 database unreachable; 70 a statement failed; 75 temporary failure \
            (connection lost, lock busy: retry later); 78 configuration error.
            """,
        version: BuildInfo.version,
        subcommands: [
            RunCommand.self, SyncCommand.self, BackfillCommand.self, ReconcileCommand.self, MigrateCommand.self, StatusCommand.self, CheckConfigCommand.self,
            CursorCommand.self, RelayCommand.self, OutboxCommand.self, AggregateCommand.self, FeedCommand.self, AccountsCommand.self, NormalizeCommand.self, BridgeCommand.self, DropCommand.self, VersionCommand.self,
        ]
    )

    /// ArgumentParser's own `main`, after logging and metrics are bootstrapped (the one place that does it).
    static func main() async {
        Operations.bootstrap()
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
