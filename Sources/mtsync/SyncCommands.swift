import ArgumentParser
import Foundation
import Logging
import MTSyncBridge
import MTSyncBridgeTransport
import MTSyncConfiguration
import MTSyncCore
import MTSyncEngine
import MTSyncOperations
import MTSyncStore
import ServiceLifecycle

/// `--config FILE` for the commands that sync.
struct ConfigOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "The configuration file (YAML). Default: $MTSYNC_CONFIG, then /etc/mtsync/mtsync.yaml.")
    var path: String?

    @Option(help: "Log line format: logfmt or json (default: the file's logging.format, else logfmt).")
    var logFormat: String?

    @Option(help: "Log level for every subsystem: trace, debug, info, notice, warning, error, critical (default: the file's logging.level, else info).")
    var logLevel: String?

    var resolvedPath: String {
        path ?? ProcessInfo.processInfo.environment["MTSYNC_CONFIG"] ?? "/etc/mtsync/mtsync.yaml"
    }

    func validate() throws {
        if let logFormat, LogFormat(rawValue: logFormat) == nil { throw ValidationError("--log-format must be logfmt or json, not \(logFormat)") }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of \(LoggingConfiguration.levels.joined(separator: ", ")), not \(logLevel)")
        }
    }

    /// Reads the file and sets logging up from it (format, levels, and the secrets to redact from every line).
    ///
    /// `service`: the command runs until stopped (`run`, `relay` and `feed run` without `--once`) and its log is
    /// its only account of itself, so the file's levels apply. A command that runs once prints its result on
    /// stdout; its log shows warnings and errors only unless `--log-level` asks for more, so a cron job's mail holds
    /// what went wrong rather than a line per page.
    func load(service: Bool = false) throws -> MTSyncConfiguration {
        let configuration = try MTSyncConfiguration.load(path: resolvedPath)
        configuration.configureLogging(format: logFormat, level: logLevel ?? (service ? nil : "warning"))
        return configuration
    }
}

/// Builds the engine's pieces for configured servers: a database connection each (so one slow server never
/// waits on another's statements) and a bridge client or drop-folder intake.
struct Engine {
    let configuration: MTSyncConfiguration

    func connect() async throws -> PostgresConnection {
        let url = configuration.databaseURL?.connectionString ?? ""
        return try await PostgresConnection.connect(PostgresConfiguration(connectionString: url))
    }

    /// Refuses to sync against a schema this binary does not match.
    func checkSchema(_ connection: PostgresConnection) async throws {
        let status = try await Migrator.embedded().status(on: connection)
        if let problem = status.problem { throw problem }
        guard status.pending.isEmpty else {
            throw ValidationError("\(status.pending.count) migration(s) pending: run `mtsync migrate` first")
        }
    }

    /// Each configured server's platform, for the relay's envelopes.
    var platforms: [String: Platform] {
        Dictionary(configuration.servers.map { ($0.id.rawValue, $0.platform) }, uniquingKeysWith: { first, _ in first })
    }

    func servers(named name: String?) throws -> [ServerConfiguration] {
        guard let name else { return configuration.servers }
        guard let server = configuration.servers.first(where: { $0.id.rawValue == name }) else {
            throw ValidationError("no server \(String(reflecting: name)) in the configuration (it has: \(configuration.servers.map(\.id.rawValue).joined(separator: ", ")))")
        }
        return [server]
    }

    func batcher(for server: ServerConfiguration) throws -> RecordBatcher {
        RecordBatcher(normalizer: Normalizer(settings: try server.normalizerSettings()))
    }

    func bridgeClient(for bridge: BridgeSource) throws -> BridgeClient {
        let tls = bridge.tls.map { BridgeTLS(caFile: $0.caFile, clientCertificateFile: $0.certFile, clientKeyFile: $0.keyFile, serverName: $0.serverName) }
        let endpoint = BridgeEndpoint(
            host: bridge.host, port: bridge.port, key: try BridgeKey(id: bridge.keyID, hex: bridge.key.revealHex()), tls: tls,
            connectTimeout: bridge.connectTimeout, readTimeout: bridge.readTimeout, requestTimeout: bridge.requestTimeout, handshakeTimeout: bridge.handshakeTimeout)
        return BridgeClient(endpoint: endpoint, retryPolicy: BridgeClient.RetryPolicy(giveUpAfter: bridge.giveUpAfter))
    }

    /// A bridge client for `server` that says every failed attempt as it happens: a warning in the log, a count in
    /// `mtsync_bridge_errors_total`, and the error on the server's stream for `status` (FAILING until a pull
    /// succeeds). The daemon's gives up on a pull after a few attempts (and polls again with its own backoff); a
    /// one-shot command's keeps trying for `bridge.give_up_after`, then exits 75.
    func bridgeClient(for bridge: BridgeSource, server: ServerConfiguration, connection: PostgresConnection, daemon: Bool) throws -> BridgeClient {
        let plain = try bridgeClient(for: bridge)
        let logger = Logger(label: "mtsync.bridge")
        let id = server.id, stream: SyncStream = server.platform == .mt5 ? .deals : .trades
        return BridgeClient(endpoint: plain.endpoint, retryPolicy: daemon ? .daemon : plain.retryPolicy, onRetry: { retry in
            SyncMetric.bridgeErrors.increment(id.rawValue, BridgeErrorCode.of(retry.error))
            var metadata: Logger.Metadata = ["server": "\(id)", "attempt": "\(retry.failedAttempts)", "error": "\(retry.error)"]
            if let delay = retry.delay { metadata["retry_in"] = "\(delay)" }
            logger.warning(retry.delay == nil ? "bridge attempt failed; giving up on this operation" : "bridge attempt failed; retrying", metadata: metadata)
            // Best effort: the store may be what is down, and the retry goes on without this note.
            try? await FactStore.recordError(serverID: id, stream: stream, message: String(describing: retry.error), on: connection)
        })
    }

    func bridgeSync(for server: ServerConfiguration, bridge: BridgeSource, connection: PostgresConnection, daemon: Bool = false) throws -> ServerSync {
        var settings = ServerSyncSettings(startMilliseconds: server.start, lookback: server.lookback, pageSize: server.pageSize)
        // `feed.accounts_every` is where the interval was set before it became a server setting.
        if let every = server.accountsEvery ?? configuration.feed?.accountsEvery { settings.accountsEvery = every }
        if let every = server.symbolsEvery { settings.symbolsEvery = every }
        if let every = server.dailyEvery { settings.dailyEvery = every }
        if let after = server.pendingWarnAfter { settings.pendingWarnAfter = after }
        settings.changesRecoveryWindow = server.reconcileWindow
        return ServerSync(
            client: try bridgeClient(for: bridge, server: server, connection: connection, daemon: daemon), connection: connection,
            batcher: try batcher(for: server), settings: settings)
    }

    /// The accounts reader of a bridge server; nil for a drop folder (its accounts arrive in its accounts files).
    func accountSync(for server: ServerConfiguration, connection: PostgresConnection) throws -> AccountSync? {
        guard case .bridge(let bridge) = server.source else { return nil }
        return AccountSync(client: try bridgeClient(for: bridge), connection: connection, batcher: try batcher(for: server))
    }

    /// A drop folder server's sync, for its pulls and for `accounts sync` (its accounts files only).
    func dropSync(for server: ServerConfiguration, drop: ServerConfiguration.DropSource, connection: PostgresConnection) throws -> DropServerSync {
        let folder = try DropFolder(root: drop.folder, serverID: server.id.rawValue, maxFileBytes: drop.maxFileBytes)
        let intake = DropFolderIntake(folder: folder, connection: connection, batchSize: server.pageSize)
        return DropServerSync(intake: intake, batcher: try batcher(for: server))
    }

    /// For the bounded jobs (backfill, reconcile) of one bridge server: connects, checks the schema, registers the
    /// server and builds its `ServerSync`; `otherwise` says why a drop-folder server cannot do the job.
    func bridgeSync(named name: String, otherwise: String) async throws -> (ServerConfiguration, ServerSync) {
        guard let server = try servers(named: name).first, case .bridge(let bridge) = server.source else {
            throw ValidationError(otherwise)
        }
        let connection = try await connect()
        try await checkSchema(connection)
        try await FactStore.register(serverID: server.id, platform: server.platform, zone: server.zoneName, on: connection)
        return (server, try bridgeSync(for: server, bridge: bridge, connection: connection))
    }

    /// The daemon's scheduled reconcile with repair of a bridge server (drop folders have no digests), nil when
    /// `reconcile.every` is off.
    func trailingReconcile(for server: ServerConfiguration, connection: PostgresConnection) throws -> TrailingReconcile? {
        guard let every = server.reconcileEvery, case .bridge(let bridge) = server.source else { return nil }
        let sync = try bridgeSync(for: server, bridge: bridge, connection: connection, daemon: true)
        let window = server.reconcileWindow, owner = configuration.instanceID
        return TrailingReconcile(every: every) {
            let range = try await sync.trailingRange(window: window)
            return try await sync.recordedReconcile(fromMilliseconds: range.fromMilliseconds, toMilliseconds: range.toMilliseconds, repair: true, owner: owner)
        }
    }

    /// One incremental pull of a server, whatever its source.
    func puller(for server: ServerConfiguration, connection: PostgresConnection, daemon: Bool = false) throws -> @Sendable () async throws -> SyncReport {
        switch server.source {
        case .bridge(let bridge):
            let sync = try bridgeSync(for: server, bridge: bridge, connection: connection, daemon: daemon)
            return { try await sync.pull() }
        case .drop(let drop):
            let sync = try dropSync(for: server, drop: drop, connection: connection)
            return { try await sync.pull() }
        }
    }
}

struct SyncSummary: Encodable {
    var server: String
    var status: String
    var pages = 0
    var records = 0
    var inserted = 0
    var updated = 0
    var deleted = 0
    var quarantined = 0
    var changes = 0
    var cursor: String?
    var error: String?
    /// Who holds the server's lease when another process does: instance, host and pid.
    var heldBy: String?

    init(server: String, status: String, report: SyncReport? = nil, error: String? = nil, heldBy: String? = nil) {
        self.server = server
        self.status = status
        self.error = error
        self.heldBy = heldBy
        if let report {
            pages = report.pages
            records = report.records
            inserted = report.outcome.inserted
            updated = report.outcome.updated
            deleted = report.outcome.deleted
            quarantined = report.outcome.quarantined
            changes = report.changes
            cursor = report.cursor?.description
        }
    }
}

/// `mtsync sync`: one incremental pull of every configured server (or one), then exit — for cron, for a first
/// look, and for the crash tests. Takes each server's lease like the daemon, so it never races a running daemon.
struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Pull every configured server (or --server) once: new deals since the cursor (minus the lookback), then changes.",
        discussion: "Exit status 0 when every server synced or is held by another instance; 75 when a server failed (retry later); 78 for a bad configuration."
    )

    @OptionGroup var config: ConfigOptions
    @Option(help: "Only this server.") var server: String?
    @Option(help: "Lease owner name (default: the configuration's instance id).") var owner: String?
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let configuration: MTSyncConfiguration
        do {
            configuration = try config.load()
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        let engine = Engine(configuration: configuration)
        var summaries: [SyncSummary] = []
        do {
            let connection = try await engine.connect()
            try await engine.checkSchema(connection)
            // Leases on a connection of their own, as in the daemon: a renewal queued behind a slow page on the
            // pull's connection let the lease expire on a loaded machine while the pull was healthy.
            let leaseConnection = try await engine.connect()
            // This process holds its leases under its own token and is seen alive while the lease connection lasts:
            // a daemon with the same instance id leaves them alone (and takes them back at once if this one dies).
            let holder = LeaseHolder.thisProcess(instanceID: self.owner ?? configuration.instanceID)
            try await holder.markAlive(on: leaseConnection)
            for server in try engine.servers(named: self.server) {
                try await FactStore.register(serverID: server.id, platform: server.platform, zone: server.zoneName, on: connection)
                let pull = try engine.puller(for: server, connection: connection)
                let lease: ServerLease
                switch try await ServerLease.take(serverID: server.id.rawValue, holder: holder, ttl: configuration.leaseTTL, on: leaseConnection) {
                case .held(let held):
                    lease = held
                case .heldByAnother(let other):
                    summaries.append(SyncSummary(server: server.id.rawValue, status: "held by another instance", heldBy: other.holderDescription))
                    continue
                }
                do {
                    let report = try await ServerLease.holding(lease, ttl: configuration.leaseTTL, renewingOn: leaseConnection) { try await pull() }
                    summaries.append(SyncSummary(server: server.id.rawValue, status: "synced", report: report))
                } catch {
                    summaries.append(SyncSummary(server: server.id.rawValue, status: "failed", error: String(describing: error)))
                    try? await FactStore.recordError(serverID: server.id, stream: server.platform == .mt5 ? .deals : .trades, message: String(describing: error), on: connection)
                }
                _ = try? await ServerLease.release(lease, on: leaseConnection)
            }
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json {
            JSONOutput.print(["servers": summaries])
        } else {
            for summary in summaries {
                print("\(summary.server): \(summary.status)\((summary.heldBy ?? summary.error).map { " — \($0)" } ?? "")")
                if summary.status == "synced" {
                    print("  \(summary.records) record(s) in \(summary.pages) page(s): \(summary.inserted) new, \(summary.updated) updated, \(summary.deleted) deleted, \(summary.quarantined) quarantined; cursor \(summary.cursor ?? "-")")
                }
            }
        }
        if summaries.contains(where: { $0.status == "failed" }) { throw ExitCode(CommandFailure.Status.temporary.rawValue) }
    }
}

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
        let engine = Engine(configuration: configuration)
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

/// `mtsync reconcile`: digests from the bridge against the store, bucket by bucket; `--repair` fixes them.
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Compare the bridge's per-bucket digests with the store over a range; with --repair, re-pull differing buckets.",
        discussion: "Exit status 0 when every bucket matches (or was repaired), 65 when buckets differ and --repair was not given."
    )

    @OptionGroup var config: ConfigOptions
    @Option(help: "The server.") var server: String
    @Option(help: "Range start, server time: YYYY-MM-DD or YYYY-MM-DDTHH:MM (default: 3 days before --to).") var from: String?
    @Option(help: "Range end (exclusive), same forms (default: the start of the current hour, server time).") var to: String?
    @Flag(help: "Re-pull differing buckets: insert missing deals, update changed ones, mark vanished ones deleted.") var repair = false
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let report: ServerSync.ReconcileReport
        do {
            let configuration = try config.load()
            let (server, sync) = try await Engine(configuration: configuration).bridgeSync(
                named: self.server, otherwise: "reconcile needs a server with a bridge (a drop folder has no digests)")
            let start: Int64, end: Int64
            if from == nil || to == nil {
                let trailing = try await sync.trailingRange(window: .seconds(3 * 86_400))
                end = try to.map(BridgeCheckCommand.serverMilliseconds) ?? trailing.toMilliseconds
                start = try from.map(BridgeCheckCommand.serverMilliseconds) ?? end - 3 * 86_400_000
            } else {
                start = try BridgeCheckCommand.serverMilliseconds(from!)
                end = try BridgeCheckCommand.serverMilliseconds(to!)
            }
            guard start < end else { throw ValidationError("--from must be before --to") }
            guard let recorded = try await sync.recordedReconcile(fromMilliseconds: start, toMilliseconds: end, repair: repair, owner: configuration.instanceID) else {
                throw ReconcileAlreadyRunning(server: server.id.rawValue)
            }
            report = recorded
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json {
            JSONOutput.print(report)
        } else {
            print("\(report.buckets) bucket(s) compared, \(report.differing.count) differ")
            for bucket in report.differing.prefix(10) {
                print("  \(TradingFact.iso8601(milliseconds: bucket.fromMilliseconds)) – \(TradingFact.iso8601(milliseconds: bucket.toMilliseconds)): bridge \(bucket.bridgeCount) record(s) / \(bucket.bridgeChecksum), store \(bucket.storeCount) / \(bucket.storeChecksum)")
            }
            if report.differing.count > 10 { print("  … and \(report.differing.count - 10) more (--json lists them all)") }
            if repair {
                print("repaired: \(report.repairedRecords) record(s) re-read, \(report.inserted) inserted, \(report.updated) updated, \(report.deleted) marked deleted")
                if report.dailyRecordsRead > 0 { print("end-of-day records read again: \(report.dailyRecordsRead), \(report.dailyRecordsChanged) changed") }
            }
        }
        if !repair && !report.differing.isEmpty { throw ExitCode(CommandFailure.Status.dataError.rawValue) }
    }
}

/// Another reconcile of the same server and range is running (the daemon's trailing one, or another cron run).
struct ReconcileAlreadyRunning: Error, CustomStringConvertible {
    let server: String
    var description: String { "a reconcile of \(server) over this range is already running (see `mtsync status`): try again when it is done" }
}

/// `mtsync backfill`: a bounded range, chunked and resumable, that never moves the live cursor.
struct BackfillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill",
        abstract: "Store a bounded, half-open range [--from, --to) of a server's history, chunk by chunk; resumable; the live cursor does not move.",
        discussion: "Run it again with the same range after a crash or kill: it resumes at the first chunk not done. Exit status 0 when the whole range is stored; 75 when a chunk failed (run it again)."
    )

    @OptionGroup var config: ConfigOptions
    @Option(help: "The server.") var server: String
    @Option(help: "Range start, server time: YYYY-MM-DD or YYYY-MM-DDTHH:MM.") var from: String
    @Option(help: "Range end (exclusive), same forms.") var to: String
    @Option(help: "Chunk length: 1h, 6h, 1d (default), 7d.") var chunk: String = "1d"
    @Flag(help: "Then send the range's trading days to the loyalty platform's file ingest: every customer's whole row, once per content (a rerun uploads nothing new).") var feed = false
    @Flag(help: "Then send the range's tier snapshots (feed.snapshots) through the file ingest, every customer with an account on the server, from the range's first trading day to its last closed one.") var snapshots = false
    @OptionGroup var output: OutputOptions

    struct Summary: Encodable {
        var server: String
        var jobID: Int64
        var chunks: Int
        var chunksAlreadyDone: Int
        var records = 0
        var inserted = 0
        var updated = 0
        var quarantined = 0
        /// Facts stored but not sent (their account's decision excludes them), and records held for their account.
        var excluded = 0
        var pending = 0
        var dailyRecords: Int?
        var feed: FeedSummary?
        var snapshots: TierSnapshotBuilder.Report?
    }

    struct FeedSummary: Encodable {
        var fromDay: String
        var toDay: String
        var rows: Int
        var files: Int
        var sent: DailyFeedSender.Report
        /// Batches still waiting when the run ended (the next run sends them).
        var pendingAfter: Int
        enum CodingKeys: String, CodingKey { case fromDay = "from_day", toDay = "to_day", rows, files, sent, pendingAfter = "pending_after" }
    }

    func run() async throws {
        var summary: Summary
        let sinks = IngestSinks()
        do {
            let configuration = try config.load()
            if feed || snapshots, configuration.feed?.fileIngest == nil {
                throw configuration.feed == nil ? FeedNotConfigured() as any Error : FeedMisconfigured(message: "--feed and --snapshots send through the file ingest: configure feed.file_ingest (url, api_key_env or api_key_file)")
            }
            if snapshots, configuration.feed?.snapshots == nil {
                throw FeedMisconfigured(message: "--snapshots needs feed.snapshots (its trigger_id) in the configuration")
            }
            let start = try BridgeCheckCommand.serverMilliseconds(from), end = try BridgeCheckCommand.serverMilliseconds(to)
            guard start < end else { throw ValidationError("--from must be before --to") }
            guard let chunkLength = Self.chunkMilliseconds(chunk) else { throw ValidationError("--chunk must be like 1h, 6h, 1d or 7d") }
            let (server, sync) = try await Engine(configuration: configuration).bridgeSync(
                named: self.server, otherwise: "backfill needs a server with a bridge (a drop folder is backfilled by publishing files)")
            let connection = sync.connection
            let job = try await BackfillJob.open(
                serverID: server.id, fromMilliseconds: start, toMilliseconds: end, chunkMilliseconds: chunkLength, owner: configuration.instanceID, on: connection)
            summary = Summary(server: server.id.rawValue, jobID: job.jobID, chunks: job.pending.count + job.done, chunksAlreadyDone: job.done)
            do {
                // The accounts first (when due), so the range's facts are decided from them rather than held.
                _ = try await sync.refreshReferenceData()
                for chunk in job.pending {
                    let report = try await sync.pull(fromMilliseconds: chunk.fromMilliseconds, toMilliseconds: chunk.toMilliseconds, movingCursor: false, backfillJobID: job.jobID)
                    try await job.finish(chunk, records: report.records, on: connection)
                    summary.records += report.records
                    summary.inserted += report.outcome.inserted
                    summary.updated += report.outcome.updated
                    summary.quarantined += report.outcome.quarantined
                    summary.excluded += report.outcome.excluded
                }
                // The range's end-of-day records too, when the bridge serves them: the tier snapshots' balances.
                summary.dailyRecords = try await sync.readDaily(fromMilliseconds: start, toMilliseconds: end)?.records
                let caughtUp = try await sync.catchUpDecisions()
                summary.inserted += caughtUp.outcome.inserted
                summary.pending = try await PendingRecords.summary(server: server.id.rawValue, on: connection).records
                try await job.complete(on: connection)
            } catch {
                try? await job.complete(error: String(describing: error), on: connection)
                throw error
            }
            if feed, let feedConfiguration = configuration.feed {
                summary.feed = try await sendFeed(configuration: configuration, feed: feedConfiguration, server: server, range: start..<end, sinks: sinks)
            }
            if snapshots, let feedConfiguration = configuration.feed {
                summary.snapshots = try await sendSnapshots(configuration: configuration, feed: feedConfiguration, server: server, range: start..<end, sinks: sinks)
            }
            await sinks.shutdown()
        } catch {
            await sinks.shutdown()
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json {
            JSONOutput.print(summary)
        } else {
            print("backfill job \(summary.jobID) of \(summary.server): \(summary.chunks) chunk(s), \(summary.chunksAlreadyDone) done before this run")
            print("  \(summary.records) record(s): \(summary.inserted) new, \(summary.updated) updated, \(summary.quarantined) quarantined, \(summary.excluded) excluded (stored, not sent)")
            if summary.pending > 0 {
                print("  \(summary.pending) record(s) of the server wait for their account (the bridge has not sent it); they are decided when it arrives (mtsync status)")
            }
            if let feed = summary.feed {
                print("  feed: trading days \(feed.fromDay) to \(feed.toDay): \(feed.rows) row(s) in \(feed.files) new file(s); \(feed.sent.sent) upload(s) sent, \(feed.pendingAfter) waiting")
                if let error = feed.sent.lastError { print("  feed: last error: \(error)") }
            }
            if let snapshots = summary.snapshots {
                print("  snapshots: \(snapshots.customers) customer(s) through \(snapshots.closedThrough ?? "-"): \(snapshots.rowsQueued) row(s) in \(snapshots.filesQueued) file(s), \(snapshots.customersHeld) customer(s) held")
            }
        }
        if let feed = summary.feed, feed.sent.parked > 0 || feed.pendingAfter > 0 { throw ExitCode(75) }
    }

    /// The range's tier snapshots through the file ingest, then what is queued is sent.
    func sendSnapshots(configuration: MTSyncConfiguration, feed: FeedConfiguration, server: ServerConfiguration, range: Range<Int64>, sinks: IngestSinks) async throws -> TierSnapshotBuilder.Report {
        let connection = try await Engine(configuration: configuration).connect()
        let first = server.zone.utcMilliseconds(fromServerMilliseconds: range.lowerBound).utcMilliseconds
        let last = server.zone.utcMilliseconds(fromServerMilliseconds: range.upperBound - 1).utcMilliseconds
        guard let builder = try IngestSinks.snapshotBuilder(for: configuration, feed: feed, on: connection) else { throw FeedMisconfigured(message: "--snapshots needs feed.snapshots") }
        let report = try await builder.queueRange(
            fromDay: Self.tradingDay(ofUTCMilliseconds: first, rule: feed.day), toDay: Self.tradingDay(ofUTCMilliseconds: last, rule: feed.day),
            servers: [server.id.rawValue], origin: "backfill-snapshots:\(server.id.rawValue)")
        var logger = Logger(label: "mtsync")
        logger.logLevel = .warning
        _ = try await sinks.feedSender(for: feed, on: connection, logger: logger).sendDue()
        return report
    }

    /// The range's trading days through the file ingest. The range is in server time; its first and last instants
    /// in UTC give the first and last trading day in the feed's zone.
    func sendFeed(configuration: MTSyncConfiguration, feed: FeedConfiguration, server: ServerConfiguration, range: Range<Int64>, sinks: IngestSinks) async throws -> FeedSummary {
        let engine = Engine(configuration: configuration)
        let connection = try await engine.connect()
        let first = server.zone.utcMilliseconds(fromServerMilliseconds: range.lowerBound).utcMilliseconds
        let last = server.zone.utcMilliseconds(fromServerMilliseconds: range.upperBound - 1).utcMilliseconds
        let fromDay = Self.tradingDay(ofUTCMilliseconds: first, rule: feed.day), toDay = Self.tradingDay(ofUTCMilliseconds: last, rule: feed.day)
        var logger = Logger(label: "mtsync")
        logger.logLevel = .warning
        let builder = DailyFeedBuilder(settings: try IngestSinks.feedSettings(for: configuration, feed: feed), connection: connection)
        let built = try await builder.queueRange(fromDay: fromDay, toDay: toDay, servers: nil, origin: "backfill:\(server.id.rawValue):\(fromDay)..\(toDay)")
        let sender = try await sinks.feedSender(for: feed, on: connection, logger: logger)
        // A cron job: transient refusals (429, 5xx, timeouts) are retried for a while with the same batches, then the
        // run exits 75 and the next run sends what is left.
        var sent = DailyFeedSender.Report()
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            let round = try await sender.sendDue()
            sent.sent += round.sent
            sent.rowsSent += round.rowsSent
            sent.retried += round.retried
            sent.parked += round.parked
            sent.lastError = round.lastError
            let status = try await DailyFeedStore.status(on: connection)
            if status.batchesPending == 0 || round.parked > 0 || ContinuousClock.now > deadline { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        let pending = try await DailyFeedStore.status(on: connection).batchesPending
        return FeedSummary(fromDay: fromDay, toDay: toDay, rows: built.rowsQueued, files: built.filesQueued, sent: sent, pendingAfter: pending)
    }

    static func tradingDay(ofUTCMilliseconds milliseconds: Int64, rule: TradingDayRule) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: rule.zone) ?? TimeZone(identifier: "UTC")!
        let shifted = Date(timeIntervalSince1970: Double(milliseconds) / 1000).addingTimeInterval(Double(rule.shiftSeconds))
        let parts = calendar.dateComponents([.year, .month, .day], from: shifted)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.year!)-\(two(parts.month!))-\(two(parts.day!))"
    }

    static func chunkMilliseconds(_ text: String) -> Int64? {
        guard let unit = text.last, let count = Int64(text.dropLast()), count > 0 else { return nil }
        switch unit {
        case "h": return count * 3_600_000
        case "d": return count * 86_400_000
        default: return nil
        }
    }
}
