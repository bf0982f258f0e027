import Foundation
import Logging
import MTSyncBridge
import MTSyncCore
import MTSyncEngine
import MTSyncStore

/// The bootstrap the daemon and the one-shot commands share: builds the engine's pieces for configured servers, a
/// database connection each (so one slow server never waits on another's statements) and a bridge client or
/// drop-folder intake.
public struct SyncBootstrap {
    public let configuration: MTSyncConfiguration

    public init(configuration: MTSyncConfiguration) { self.configuration = configuration }

    public func connect() async throws -> PostgresConnection {
        let url = configuration.databaseURL?.connectionString ?? ""
        return try await PostgresConnection.connect(PostgresConfiguration(connectionString: url))
    }

    /// Refuses to sync against a schema this binary does not match.
    public func checkSchema(_ connection: PostgresConnection) async throws {
        let status = try await Migrator.embedded().status(on: connection)
        if let problem = status.problem { throw problem }
        guard status.pending.isEmpty else {
            throw BootstrapProblem("\(status.pending.count) migration(s) pending: run `mtsync migrate` first")
        }
    }

    /// Each configured server's platform, for the relay's envelopes.
    public var platforms: [String: Platform] {
        Dictionary(configuration.servers.map { ($0.id.rawValue, $0.platform) }, uniquingKeysWith: { first, _ in first })
    }

    public func servers(named name: String?) throws -> [ServerConfiguration] {
        guard let name else { return configuration.servers }
        guard let server = configuration.servers.first(where: { $0.id.rawValue == name }) else {
            throw BootstrapProblem("no server \(String(reflecting: name)) in the configuration (it has: \(configuration.servers.map(\.id.rawValue).joined(separator: ", ")))")
        }
        return [server]
    }

    public func batcher(for server: ServerConfiguration) throws -> RecordBatcher {
        RecordBatcher(normalizer: Normalizer(settings: try server.normalizerSettings()))
    }

    public func bridgeClient(for bridge: BridgeSettings) throws -> BridgeClient {
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
    public func bridgeClient(for bridge: BridgeSettings, server: ServerConfiguration, connection: PostgresConnection, daemon: Bool) throws -> BridgeClient {
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

    public func bridgeSync(for server: ServerConfiguration, bridge: BridgeSettings, connection: PostgresConnection, daemon: Bool = false) throws -> ServerSync {
        return ServerSync(
            client: try bridgeClient(for: bridge, server: server, connection: connection, daemon: daemon), connection: connection,
            batcher: try batcher(for: server), settings: server.sync)
    }

    /// The accounts reader of a bridge server; nil for a drop folder (its accounts arrive in its accounts files).
    public func accountSync(for server: ServerConfiguration, connection: PostgresConnection) throws -> AccountSync? {
        guard case .bridge(let bridge) = server.source else { return nil }
        return AccountSync(client: try bridgeClient(for: bridge), connection: connection, batcher: try batcher(for: server))
    }

    /// A drop folder server's sync, for its pulls and for `accounts sync` (its accounts files only).
    public func dropSync(for server: ServerConfiguration, drop: ServerConfiguration.DropSource, connection: PostgresConnection) throws -> DropServerSync {
        let folder = try DropFolder(root: drop.folder, serverID: server.id.rawValue, maxFileBytes: drop.maxFileBytes)
        let intake = DropFolderIntake(folder: folder, connection: connection, batchSize: server.sync.pageSize)
        return DropServerSync(intake: intake, batcher: try batcher(for: server))
    }

    /// For the bounded jobs (backfill, reconcile) of one bridge server: connects, checks the schema, registers the
    /// server and builds its `ServerSync`; `otherwise` says why a drop-folder server cannot do the job.
    public func bridgeSync(named name: String, otherwise: String) async throws -> (ServerConfiguration, ServerSync) {
        guard let server = try servers(named: name).first, case .bridge(let bridge) = server.source else {
            throw BootstrapProblem(otherwise)
        }
        let connection = try await connect()
        try await checkSchema(connection)
        try await FactStore.register(serverID: server.id, platform: server.platform, zone: server.zoneName, on: connection)
        return (server, try bridgeSync(for: server, bridge: bridge, connection: connection))
    }

    /// The daemon's scheduled reconcile with repair of a bridge server (drop folders have no digests), nil when
    /// `reconcile.every` is off.
    public func trailingReconcile(for server: ServerConfiguration, connection: PostgresConnection) throws -> TrailingReconcile? {
        guard let every = server.reconcileEvery, case .bridge(let bridge) = server.source else { return nil }
        let sync = try bridgeSync(for: server, bridge: bridge, connection: connection, daemon: true)
        let window = server.reconcileWindow, owner = configuration.instanceID
        return TrailingReconcile(every: every) {
            let range = try await sync.trailingRange(window: window)
            return try await sync.recordedReconcile(fromMilliseconds: range.fromMilliseconds, toMilliseconds: range.toMilliseconds, repair: true, owner: owner)
        }
    }

    /// One incremental pull of a server, whatever its source.
    public func puller(for server: ServerConfiguration, connection: PostgresConnection, daemon: Bool = false) throws -> @Sendable () async throws -> SyncReport {
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

/// What the configuration cannot do for the command asked (no such server, a drop-folder server for a bridge job,
/// migrations pending): the operator changes the command, the file or the database, then runs it again.
public struct BootstrapProblem: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}
