import MTSyncStore
import Synchronization

/// Where each server's lease stands for this instance, as the daemon last found it: what `/readyz` reports. An
/// instance is doing its job when every server is either held by it or held by another live instance (waiting);
/// a server still starting, or whose lease could not even be asked for (the database away), is not.
public final class LeaseBoard: Sendable {
    public enum State: Sendable, Hashable, CustomStringConvertible {
        /// The daemon has not asked for it yet.
        case starting
        /// This instance holds it and syncs the server.
        case held
        /// Another live instance holds it; this one takes over if that one stops renewing it.
        case waiting
        /// `waiting`, with the holder named: instance, host and pid.
        case heldBy(String)
        /// Asking for the lease failed, with why.
        case failed(String)

        public var isDoingItsJob: Bool {
            switch self {
            case .held, .waiting, .heldBy: true
            case .starting, .failed: false
            }
        }

        public var description: String {
            switch self {
            case .starting: "starting"
            case .held: "held"
            case .waiting: "held by another instance"
            case .heldBy(let holder): "held by \(holder)"
            case .failed(let reason): "cannot take the lease: \(reason)"
            }
        }
    }

    private let states: Mutex<[String: State]>
    /// The servers in the configuration's order.
    public let servers: [String]

    public init(servers: [String]) {
        self.servers = servers
        self.states = Mutex(Dictionary(servers.map { ($0, State.starting) }, uniquingKeysWith: { first, _ in first }))
    }

    public func record(_ server: String, _ state: State) {
        states.withLock { $0[server] = state }
    }

    /// Records what asking for the server's lease found.
    public func record(_ server: String, _ acquisition: ServerLease.Acquisition) {
        switch acquisition {
        case .held: record(server, .held)
        case .heldByAnother(let lease): record(server, .heldBy(lease.holderDescription))
        }
    }

    /// Every server with its state, in the configuration's order.
    public func snapshot() -> [(server: String, state: State)] {
        let states = states.withLock { $0 }
        return servers.map { ($0, states[$0] ?? .starting) }
    }
}
