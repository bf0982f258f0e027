import ArgumentParser
import Foundation
import MTSyncApp
import MTSyncStore

/// `mtsync aggregate`: emits the hourly aggregates that are due now (the daemon does it every `aggregates.every`).
struct AggregateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aggregate",
        abstract: "Emit aggregate.hourly events for the trader-hours that closed more than the grace period ago and changed.",
        discussion: "The events wait in the outbox for the relay. An hour is emitted again (revision + 1) only when late, changed or deleted facts alter its sums."
    )

    @OptionGroup var config: ConfigOptions
    @Option(help: "Override the configuration's grace period (e.g. 0s to emit every closed hour now).") var grace: String?
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let emitted: Int
        do {
            let configuration = try config.load()
            var settings = configuration.ingest?.aggregates ?? .builtIn
            if let grace {
                guard let value = DurationText.parse(grace) else { throw ValidationError("--grace must be a duration like 0s, 10m or 1h") }
                settings.grace = value
            }
            let engine = SyncBootstrap(configuration: configuration)
            let connection = try await engine.connect()
            try await engine.checkSchema(connection)
            emitted = try await HourlyAggregates.emitDue(grace: settings.grace, on: connection)
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json { JSONOutput.print(["aggregate_events": emitted]) } else { print("\(emitted) aggregate.hourly event(s) enqueued") }
    }
}
