import ArgumentParser
import Foundation
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

    /// ArgumentParser's own `main`, after logging and metrics are bootstrapped (the one place that does it), but
    /// leaving through `_exit`: glibc's `exit` runs the process's destructors while NIO's singleton event loops and
    /// the HTTP client's threads still run, and now and then one of them freed memory under another — `mtsync run`
    /// stopped by SIGTERM, or a command that had finished, ended in SIGABRT (-6, 134) instead of its exit code
    /// (seen in CI twice before and once on 2026-12-07). Everything a command does is done when `run` returns; its
    /// output is flushed here.
    static func main() async {
        ProcessMemory.tune()
        Operations.bootstrap()
        var status = ExitCode.success
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            // What `exit(withError:)` prints, where it prints it.
            status = exitCode(for: error)
            let message = fullMessage(for: error)
            if !message.isEmpty {
                if status == .success { print(message) } else { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            }
        }
        fflush(nil)
        _exit(status.rawValue)
    }
}
