import ArgumentParser
import Foundation
import MTSyncApp
import MTSyncStore

/// `mtsync outbox …`: the operator's view of events the relay set aside (dead letters) and what to do with them.
struct OutboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox",
        abstract: "List, retry or purge outbox events the relay parked (the ingest refused them, or they failed too often); prune delivered ones; resend stored facts.",
        subcommands: [OutboxListCommand.self, OutboxRetryCommand.self, OutboxPurgeCommand.self, OutboxPruneCommand.self, OutboxResendCommand.self]
    )
}

struct OutboxSelection: ParsableArguments {
    @Option(help: "The server whose parked events to act on.") var server: String
    @Option(name: .customLong("event"), help: "Only this event id (repeatable); default: every parked event of the server.")
    var events: [Int64] = []
    @Option(help: "Who acts (default: $USER@hostname); kept on the dead letter.") var by: String?

    var eventIDs: [Int64]? { events.isEmpty ? nil : events }
    var operatorName: String { by ?? CursorCommand.defaultOperator() }

    /// Runs an operator's action on the selected parked events and reports how many it touched.
    func act(
        database: DatabaseOptions, output: OutputOptions, jsonKey: String, saying: String,
        with action: (String, [Int64]?, String, PostgresConnection) async throws -> Int
    ) async throws {
        try await output.reportCount(jsonKey: jsonKey, saying: saying) {
            try await action(server, eventIDs, operatorName, try await database.connect())
        }
    }
}

struct OutboxListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Dead letters not yet retried or purged, oldest first.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Only this server.") var server: String?
    @Option(help: "At most this many.") var limit: Int = 100

    func run() async throws {
        let letters: [DeadLetter]
        do {
            let connection = try await database.connect()
            letters = try await Outbox.deadLetters(serverID: server, limit: limit, on: connection)
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json {
            JSONOutput.print(["dead_letters": letters])
            return
        }
        if letters.isEmpty { print("no dead letters") }
        for letter in letters {
            let when = Date(timeIntervalSince1970: Double(letter.createdAtMilliseconds) / 1000)
            print("event \(letter.eventID) (\(letter.serverID), \(letter.idempotencyKey)) parked \(when.ISO8601Format()) [\(letter.cause)]: \(TerminalText.printable(letter.reason))")
            if let response = letter.response, !response.isEmpty { print("  the ingest answered: \(TerminalText.printable(response.prefix(500)))") }
        }
    }
}

struct OutboxRetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry", abstract: "Put parked events back in the outbox with a fresh attempt count (after fixing what the ingest refused).")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var selection: OutboxSelection

    func run() async throws {
        try await selection.act(database: database, output: output, jsonKey: "retried", saying: "event(s) back in the outbox", with: Outbox.retryParked)
    }
}

struct OutboxPurgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge", abstract: "Delete parked events for good; their dead letters keep the payload for the record.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var selection: OutboxSelection

    func run() async throws {
        try await selection.act(database: database, output: output, jsonKey: "purged", saying: "event(s) purged", with: Outbox.purgeParked)
    }
}

struct OutboxPruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete events the ingest acknowledged longer ago than --older-than (the relay does this every hour after ingest.relay.keep_delivered); pending and parked events are never touched.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "How long delivered events are kept, e.g. 7d or 36h.") var olderThan: String

    func run() async throws {
        try await output.reportCount(jsonKey: "pruned", saying: "delivered event(s) pruned") {
            guard let keep = DurationText.parse(olderThan), keep >= .seconds(60) else {
                throw ValidationError("--older-than must be a duration of at least 1m, such as 7d or 36h, not \(String(reflecting: olderThan))")
            }
            return try await Outbox.pruneDelivered(olderThan: keep, on: try await database.connect()).deleted
        }
    }
}

struct OutboxResendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resend",
        abstract: "Queue the stored facts of a UTC time range again, each as its latest event with its own idempotency key, for an ingest that lost what it was sent; the relay delivers them.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "The server whose facts to send again.") var server: String
    @Option(help: "From this UTC time (inclusive): YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS].") var from: String
    @Option(help: "To this UTC time (exclusive), as --from.") var to: String
    @Option(help: "Only this login's facts.") var login: UInt64?

    func run() async throws {
        try await output.reportCount(jsonKey: "queued", saying: "fact event(s) queued again; the relay delivers them") {
            let start = try ServerTimeArgument.milliseconds(from), end = try ServerTimeArgument.milliseconds(to)
            guard start < end else { throw ValidationError("--from must be before --to") }
            return try await FactStore.resend(serverID: server, fromMilliseconds: start, toMilliseconds: end, login: login, on: try await database.connect())
        }
    }
}

