import MTSyncEngine
import MTSyncStore

/// What `/readyz` answers: ready when the database answers, its migrations are the ones this binary expects, and
/// every configured server's lease is held by this instance or by another live one. Each check says why in a
/// sentence an operator can act on.
public struct ReadinessCheck: Sendable {
    public struct Result: Sendable, Hashable, Encodable {
        public var name: String
        public var ok: Bool
        public var detail: String
    }

    public struct Report: Sendable, Hashable, Encodable {
        public var ready: Bool
        public var checks: [Result]
    }

    /// Its own connection: a check never queues behind a page, and a page never behind a check.
    public let connection: PostgresConnection
    public let migrator: Migrator
    public let leases: LeaseBoard?

    public init(connection: PostgresConnection, migrator: Migrator, leases: LeaseBoard?) {
        self.connection = connection
        self.migrator = migrator
        self.leases = leases
    }

    public func run() async -> Report {
        var checks: [Result] = []
        do {
            _ = try await connection.query("SELECT 1", name: "readiness")
            checks.append(Result(name: "database", ok: true, detail: "reachable"))
            let status = try await migrator.status(on: connection)
            if let problem = status.problem {
                checks.append(Result(name: "migrations", ok: false, detail: "\(problem)"))
            } else if !status.pending.isEmpty {
                checks.append(Result(name: "migrations", ok: false, detail: "\(status.pending.count) migration(s) pending: run mtsync migrate"))
            } else {
                checks.append(Result(name: "migrations", ok: true, detail: "current"))
            }
        } catch {
            checks.append(Result(name: "database", ok: false, detail: "\(error)"))
            checks.append(Result(name: "migrations", ok: false, detail: "unknown while the database does not answer"))
        }
        if let leases {
            let states = leases.snapshot()
            let detail = states.isEmpty ? "no servers configured" : states.map { "\($0.server): \($0.state)" }.joined(separator: "; ")
            checks.append(Result(name: "leases", ok: states.allSatisfy { $0.state.isDoingItsJob }, detail: detail))
        }
        return Report(ready: checks.allSatisfy(\.ok), checks: checks)
    }
}
