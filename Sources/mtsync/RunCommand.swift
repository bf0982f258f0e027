import ArgumentParser
import Foundation
import Logging
import MTSyncBridge
import MTSyncApp
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import ServiceLifecycle

/// `mtsync run`: the daemon.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "The daemon: keep every configured server in sync, each on its own interval, under leases shared with other instances.",
        discussion: "SIGTERM or SIGINT stop it cleanly (the page being stored commits or rolls back whole) with exit status 0."
    )

    @OptionGroup var config: ConfigOptions
    @Option(help: "Serve /metrics, /healthz and /readyz on HOST:PORT (default: the file's monitoring.listen; none when neither is given).")
    var listen: String?
    @Flag(help: "When another process already runs this instance.id against the database, wait until it ends and take over instead of exiting 75.")
    var wait = false

    func validate() throws {
        if let listen, MonitoringConfiguration.parseListen(listen) == nil { throw ValidationError("--listen must be HOST:PORT such as 127.0.0.1:9464, not \(listen)") }
    }

    func run() async throws {
        var configuration: MTSyncConfiguration
        do {
            configuration = try config.load(service: true)
        } catch {
            throw CommandFailure.report(error, json: false)
        }
        if let listen, let address = MonitoringConfiguration.parseListen(listen) {
            configuration.monitoring = MonitoringConfiguration(host: address.host, port: address.port, refresh: configuration.monitoring?.refresh ?? .seconds(15))
        }
        let logger = Logger(label: "mtsync")
        let engine = SyncBootstrap(configuration: configuration)
        let daemon: SyncDaemon
        let partitions: PartitionUpkeepService
        let claim: InstanceClaim
        do {
            let connection = try await engine.connect()
            try await engine.checkSchema(connection)
            if let transport = await connection.transport, transport.exposesTraffic {
                logger.warning("\(PostgresTransport.advice)", metadata: ["database_transport": "\(transport)"])
            }
            // One daemon per instance id: refuse (or --wait) while another live process runs this one.
            claim = try await InstanceClaim.take(
                holder: .thisProcess(instanceID: configuration.instanceID), connection: try await engine.connect(), wait: wait,
                logger: Logger(label: "mtsync.instance"))
            var jobs: [SyncJob] = []
            for server in configuration.servers {
                try await FactStore.register(serverID: server.id, platform: server.platform, zone: server.zoneName, on: connection)
                // A connection per server: its pages never wait on another server's statements.
                let serverConnection = try await engine.connect()
                let pull = try engine.puller(for: server, connection: serverConnection, daemon: true)
                jobs.append(SyncJob(
                    serverID: server.id, stream: server.platform == .mt5 ? .deals : .trades, pollInterval: server.pollInterval,
                    jitter: server.pollJitter, trailingReconcile: try engine.trailingReconcile(for: server, connection: serverConnection), pull: pull))
            }
            daemon = SyncDaemon(jobs: jobs, holder: claim.holder, leaseTTL: configuration.leaseTTL, connection: connection, logger: Logger(label: "mtsync.sync"))
            // The fact table's partitions ahead of time, outside pages (migration 0012); a first round before any pull.
            partitions = PartitionUpkeepService(
                connection: try await engine.connect(), settings: .forServers(starting: configuration.servers.map(\.start)), logger: Logger(label: "mtsync.partitions"))
            try? await partitions.round()
        } catch {
            throw CommandFailure.report(error, json: false)
        }
        // The claim first: a graceful shutdown ends it last, so the process stays visibly alive while it releases.
        var services: [any Service] = [claim, daemon, partitions]
        SyncMetric.primeDaemon(
            servers: configuration.servers.map { ($0.id.rawValue, $0.platform == .mt5 ? "deals" : "trades") },
            sink: configuration.ingest?.sinkName, feed: configuration.feed != nil)
        if let monitoring = configuration.monitoring {
            do {
                services += try await Operations.services(for: monitoring, engine: engine, leases: daemon.leases, logger: Logger(label: "mtsync.operations"))
            } catch {
                throw CommandFailure.report(error, json: false)
            }
        }
        let sinks = IngestSinks()
        if let ingest = configuration.ingest {
            do {
                // Its own connection: claims and marks never queue behind a server's page.
                let relay = try await sinks.relay(for: configuration, ingest: ingest, on: try await engine.connect())
                services.append(RelayService(relay: relay, platforms: engine.platforms, sinkName: ingest.sinkName, logger: Logger(label: "mtsync.relay")))
                if let aggregates = ingest.aggregates {
                    services.append(AggregateService(connection: try await engine.connect(), grace: aggregates.grace, every: aggregates.every, logger: Logger(label: "mtsync.aggregates")))
                }
            } catch {
                await sinks.shutdown()
                throw CommandFailure.report(error, json: false)
            }
        } else {
            logger.notice("no ingest configured: events stay in the outbox (mtsync status shows the backlog)")
        }
        if let feed = configuration.feed {
            do {
                // Accounts are read by each server's own pulls (they decide every fact, feed or not).
                let feedConnection = try await engine.connect()
                services.append(DailyFeedService(
                    builder: DailyFeedBuilder(settings: try IngestSinks.feedSettings(for: configuration, feed: feed), connection: feedConnection),
                    snapshots: try IngestSinks.snapshotBuilder(for: configuration, feed: feed, on: feedConnection),
                    sender: try await sinks.feedSender(for: feed, on: feedConnection, logger: Logger(label: "mtsync.feed")), every: feed.every,
                    logger: Logger(label: "mtsync.feed")))
            } catch {
                await sinks.shutdown()
                throw CommandFailure.report(error, json: false)
            }
        }
        for warning in configuration.warnings { logger.warning("configuration: \(warning)") }
        logger.info("starting", metadata: [
            "servers": "\(configuration.servers.map(\.id.rawValue).joined(separator: ","))", "instance": "\(configuration.instanceID)",
            "relay": "\(configuration.ingest == nil ? "off" : "on")", "feed": "\(configuration.feed == nil ? "off" : "on")",
            "monitoring": "\(configuration.monitoring.map { "\($0.host):\($0.port)" } ?? "off")",
        ])
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "mtsync.lifecycle")))
        do {
            try await group.run()
        } catch let error as ServerLeaseError {
            // Another process took this instance over while this one was cut off from the database.
            await sinks.shutdown()
            throw CommandFailure.report(error, json: false)
        } catch {
            await sinks.shutdown()
            throw error
        }
        await sinks.shutdown()
    }
}
