import ArgumentParser
import Foundation
import MTSyncApp
import MTSyncStore

/// How every command finds the database: `--database-url`, else `MTSYNC_DATABASE_URL`, else libpq's own
/// defaults (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSERVICE`, the service and password
/// files), exactly as `psql` would connect.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "libpq connection string or URL (postgresql://user@host:5432/db?sslmode=require).",
            discussion: "Defaults to $MTSYNC_DATABASE_URL, then to the PG* environment variables. Prefer PGPASSWORD or ~/.pgpass over a password in the URL: command lines are visible to other users.",
            valueName: "url"
        )
    )
    var databaseURL: String?

    var configuration: PostgresConfiguration {
        let url = databaseURL ?? ProcessInfo.processInfo.environment["MTSYNC_DATABASE_URL"] ?? ""
        // A password on the command line is redacted from the log lines like a configured one.
        if let databaseURL { LoggingSetup.addSecrets(DatabaseURL.passwords(in: databaseURL)) }
        return PostgresConfiguration(connectionString: url)
    }

    func connect() async throws -> PostgresConnection {
        try await PostgresConnection.connect(configuration)
    }
}

/// `--json` for commands whose output a script parses.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON object on stdout instead of text (errors too, as {\"error\": …}).")
    var json = false

    /// Runs an operator's action that counts what it did, and reports the count: `{"<jsonKey>": n}` or
    /// "n <saying>". A failure is reported the usual way (`CommandFailure`).
    func reportCount(jsonKey: String, saying: String, _ action: () async throws -> Int) async throws {
        let count: Int
        do {
            count = try await action()
        } catch {
            throw CommandFailure.report(error, json: json)
        }
        if json { JSONOutput.print([jsonKey: count]) } else { print("\(count) \(saying)") }
    }
}
