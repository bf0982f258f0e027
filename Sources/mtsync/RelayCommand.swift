import ArgumentParser
import Foundation
import Logging
import MTSyncApp
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import ServiceLifecycle

/// `mtsync relay`: delivers the outbox to the configured ingest, on its own (`mtsync run` relays too).
struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Deliver the outbox to the ingest (SQS or HTTP): with --once until nothing deliverable is left, else as a service.",
        discussion: """
            Events are marked delivered only after the ingest acknowledged them; a relay killed between the send and \
            the mark sends them again (same idempotency keys) once its claim expires. Several relays may run at once: \
            claims keep them off each other's events. With --once, exit status 0 when every deliverable event was \
            delivered, 75 when some wait for a retry (the ingest failed or throttled), 65 when some were \
            dead-lettered in this run (see `mtsync outbox list`).
            """
    )

    @OptionGroup var config: ConfigOptions
    @Flag(help: "Deliver what is pending now, then exit (for cron).") var once = false
    @Option(help: "Only this server's events (with --once).") var server: String?
    @OptionGroup var output: OutputOptions

    struct Summary: Encodable {
        var server: String
        var messages: Int
        var delivered: Int
        var retried: Int
        var deadLettered: Int
    }

    func run() async throws {
        let configuration: MTSyncConfiguration
        do {
            configuration = try config.load(service: !once)
            guard configuration.ingest != nil else { throw IngestNotConfigured() }
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        let ingest = configuration.ingest!
        let logger = Logger(label: "mtsync.relay")
        let engine = SyncBootstrap(configuration: configuration)
        let sinks = IngestSinks()
        do {
            let relay: OutboxRelay
            do {
                let connection = try await engine.connect()
                try await engine.checkSchema(connection)
                relay = try await sinks.relay(for: configuration, ingest: ingest, on: connection, bookkeeping: try await engine.connect())
            } catch {
                throw CommandFailure.report(error, json: output.json)
            }
            if once {
                try await runOnce(relay, platforms: engine.platforms)
            } else {
                try await SyncBootstrap.runUntilSignalled(RelayService(relay: relay, platforms: engine.platforms, sinkName: ingest.sinkName, logger: logger), logger: logger)
            }
        } catch {
            await sinks.shutdown()
            throw error
        }
        await sinks.shutdown()
    }

    func runOnce(_ relay: OutboxRelay, platforms: [String: Platform]) async throws {
        var summaries: [Summary] = []
        do {
            let pending = try await Outbox.serversWithPendingEvents(on: relay.connection)
            for server in pending where self.server == nil || self.server == server {
                guard let platform = platforms[server] else {
                    // Events of a server no longer configured: their platform is on the servers table.
                    FileHandle.standardError.write(Data("mtsync: note: server \(server) has pending events but is not in the configuration; skipped\n".utf8))
                    continue
                }
                let report = try await relay.drain(serverID: server, platform: platform)
                summaries.append(Summary(server: server, messages: report.messages, delivered: report.delivered, retried: report.retried, deadLettered: report.deadLettered))
            }
            try? await Outbox.releaseClaims(owner: relay.owner, on: relay.connection)
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json {
            JSONOutput.print(["servers": summaries])
        } else if summaries.isEmpty {
            print("nothing to deliver")
        } else {
            for summary in summaries {
                print("\(summary.server): \(summary.delivered) event(s) delivered in \(summary.messages) message(s), \(summary.retried) to retry, \(summary.deadLettered) dead-lettered")
            }
        }
        if summaries.contains(where: { $0.deadLettered > 0 }) { throw ExitCode(CommandFailure.Status.dataError.rawValue) }
        if summaries.contains(where: { $0.retried > 0 }) { throw ExitCode(CommandFailure.Status.temporary.rawValue) }
    }
}
