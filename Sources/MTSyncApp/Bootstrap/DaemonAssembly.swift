import Foundation
import Logging
import MTSyncEngine
import MTSyncStore
import ServiceLifecycle

/// What `mtsync run` runs, assembled from the configuration: the instance claim, the servers' sync, the fact
/// partitions' upkeep, monitoring, the relay and aggregates, the daily feed — each on a database connection of its
/// own, so one never queues behind another's statements.
public struct DaemonAssembly {
    /// In start order. The claim first: a graceful shutdown ends it last, so the process stays visibly alive while
    /// it releases.
    public let services: [any Service]
    let sinks: IngestSinks

    /// Runs every service until SIGTERM or SIGINT (exit 0) or until one fails (its error, e.g. a `StoreRefusal`
    /// when another process took this instance over while this one was cut off from the database).
    public func run() async throws {
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "mtsync.lifecycle")))
        do {
            try await group.run()
        } catch {
            await sinks.shutdown()
            throw error
        }
        await sinks.shutdown()
    }
}

extension SyncBootstrap {
    /// Connects, checks the schema, claims the instance (`wait`: until another process running it ends; otherwise
    /// a `StoreRefusal` `instanceInUse`) and builds the daemon's services. Leaves nothing open when it throws.
    public func assembleDaemon(wait: Bool) async throws -> DaemonAssembly {
        let logger = Logger(label: "mtsync")
        let connection = try await connect()
        try await checkSchema(connection)
        if let transport = await connection.transport, transport.exposesTraffic {
            logger.warning("\(PostgresTransport.advice)", metadata: ["database_transport": "\(transport)"])
        }
        // One daemon per instance id: refuse (or wait) while another live process runs this one.
        let claim = try await InstanceClaim.take(
            holder: .thisProcess(instanceID: configuration.instanceID), connection: try await connect(), wait: wait,
            logger: Logger(label: "mtsync.instance"))
        let daemon = SyncDaemon(jobs: try await syncJobs(registeringOn: connection), holder: claim.holder, leaseTTL: configuration.leaseTTL, connection: connection, logger: Logger(label: "mtsync.sync"))
        // The fact table's partitions ahead of time, outside pages (migration 0012); a first round before any pull.
        let partitions = PartitionUpkeepService(
            connection: try await connect(), settings: .forServers(starting: configuration.servers.map(\.start)), logger: Logger(label: "mtsync.partitions"))
        try? await partitions.round()
        var services: [any Service] = [claim, daemon, partitions]
        SyncMetric.primeDaemon(
            servers: configuration.servers.map { ($0.id.rawValue, $0.platform == .mt5 ? "deals" : "trades") },
            sink: configuration.ingest?.sinkName, feed: configuration.feed != nil)
        if let monitoring = configuration.monitoring {
            services += try await Operations.services(for: monitoring, engine: self, leases: daemon.leases, logger: Logger(label: "mtsync.operations"))
        }
        let sinks = IngestSinks()
        do {
            services += try await deliveryServices(sinks: sinks, logger: logger)
        } catch {
            await sinks.shutdown()
            throw error
        }
        for warning in configuration.warnings { logger.warning("configuration: \(warning)") }
        logger.info("starting", metadata: [
            "servers": "\(configuration.servers.map(\.id.rawValue).joined(separator: ","))", "instance": "\(configuration.instanceID)",
            "relay": "\(configuration.ingest == nil ? "off" : "on")", "feed": "\(configuration.feed == nil ? "off" : "on")",
            "monitoring": "\(configuration.monitoring.map { "\($0.host):\($0.port)" } ?? "off")",
        ])
        return DaemonAssembly(services: services, sinks: sinks)
    }

    /// Every configured server registered, and its job: a connection each, so its pages never wait on another
    /// server's statements.
    func syncJobs(registeringOn connection: PostgresConnection) async throws -> [SyncJob] {
        var jobs: [SyncJob] = []
        for server in configuration.servers {
            try await FactStore.register(serverID: server.id, platform: server.platform, zone: server.zoneName, on: connection)
            let serverConnection = try await connect()
            jobs.append(SyncJob(
                serverID: server.id, stream: server.platform == .mt5 ? .deals : .trades, pollInterval: server.pollInterval,
                jitter: server.pollJitter, trailingReconcile: try trailingReconcile(for: server, connection: serverConnection),
                pull: try puller(for: server, connection: serverConnection, daemon: true)))
        }
        return jobs
    }

    /// The relay and hourly aggregates (`ingest:`) and the daily feed (`feed:`), each on its own connection: claims
    /// and marks never queue behind a server's page.
    func deliveryServices(sinks: IngestSinks, logger: Logger) async throws -> [any Service] {
        var services: [any Service] = []
        if let ingest = configuration.ingest {
            let relay = try await sinks.relay(for: configuration, ingest: ingest, on: try await connect(), bookkeeping: try await connect())
            services.append(RelayService(relay: relay, platforms: platforms, sinkName: ingest.sinkName, logger: Logger(label: "mtsync.relay")))
            if let aggregates = ingest.aggregates {
                services.append(AggregateService(connection: try await connect(), grace: aggregates.grace, every: aggregates.every, logger: Logger(label: "mtsync.aggregates")))
            }
        } else {
            logger.notice("no ingest configured: events stay in the outbox (mtsync status shows the backlog)")
        }
        if let feed = configuration.feed {
            // Accounts are read by each server's own pulls (they decide every fact, feed or not).
            services.append(try await feedService(feed, on: try await connect(), sinks: sinks, logger: Logger(label: "mtsync.feed")))
        }
        return services
    }
}

extension SyncBootstrap {
    /// The daily feed's service on `connection`: the builder, the tier snapshots' builder when `feed.snapshots` is
    /// configured, and the sender through `sinks`.
    public func feedService(_ feed: FeedConfiguration, on connection: PostgresConnection, sinks: IngestSinks, logger: Logger) async throws -> DailyFeedService {
        let settings = try IngestSinks.feedSettings(for: configuration, feed: feed)
        return DailyFeedService(
            builder: DailyFeedBuilder(settings: settings, connection: connection),
            snapshots: settings.snapshots.map { TierSnapshotBuilder(settings: settings, snapshots: $0, connection: connection) },
            sender: try await sinks.feedSender(for: feed, on: connection, logger: logger), every: feed.every, logger: logger)
    }

    /// Runs `service` until SIGTERM or SIGINT, as the daemon runs its services (`mtsync relay` and `feed run`
    /// without `--once`).
    public static func runUntilSignalled(_ service: any Service, logger: Logger) async throws {
        let group = ServiceGroup(configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
