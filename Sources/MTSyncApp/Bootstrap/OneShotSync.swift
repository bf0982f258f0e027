import Foundation
import MTSyncCore
import MTSyncEngine
import MTSyncStore

/// How one server's one-shot pull ended.
public enum OneShotOutcome: Sendable {
    case synced(SyncReport)
    /// Another process holds the server's lease: instance, host and pid.
    case heldByAnother(String)
    /// The pull failed (recorded on the server's stream for `status`); a later run tries again.
    case failed(String)
}

extension SyncBootstrap {
    /// One incremental pull of every configured server (or the one named), each under its lease like the daemon's, so
    /// it never races a running daemon; a server another process holds is left to it.
    public func syncOnce(serverNamed name: String?, owner: String) async throws -> [(server: ServerID, outcome: OneShotOutcome)] {
        let connection = try await connect()
        try await checkSchema(connection)
        // Leases on a connection of their own, as in the daemon: a renewal queued behind a slow page on the pull's
        // connection let the lease expire on a loaded machine while the pull was healthy.
        let leaseConnection = try await connect()
        // This process holds its leases under its own token and is seen alive while the lease connection lasts: a
        // daemon with the same instance id leaves them alone (and takes them back at once if this one dies).
        let holder = LeaseHolder.thisProcess(instanceID: owner)
        try await holder.markAlive(on: leaseConnection)
        var outcomes: [(server: ServerID, outcome: OneShotOutcome)] = []
        for server in try servers(named: name) {
            try await FactStore.register(serverID: server.id, platform: server.platform, zone: server.zoneName, on: connection)
            let pull = try puller(for: server, connection: connection)
            let lease: ServerLease
            switch try await ServerLease.take(serverID: server.id.rawValue, holder: holder, ttl: configuration.leaseTTL, on: leaseConnection) {
            case .held(let held):
                lease = held
            case .heldByAnother(let other):
                outcomes.append((server.id, .heldByAnother(other.holderDescription)))
                continue
            }
            do {
                let report = try await ServerLease.holding(lease, ttl: configuration.leaseTTL, renewingOn: leaseConnection) { try await pull() }
                outcomes.append((server.id, .synced(report)))
            } catch {
                outcomes.append((server.id, .failed(String(describing: error))))
                try? await FactStore.recordError(serverID: server.id, stream: server.platform == .mt5 ? .deals : .trades, message: String(describing: error), on: connection)
            }
            _ = try? await ServerLease.release(lease, on: leaseConnection)
        }
        return outcomes
    }
}
