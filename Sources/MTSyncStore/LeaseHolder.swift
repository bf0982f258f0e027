import Foundation

/// The process that takes leases for an instance: the instance id every other instance sees (a lease's `owner`),
/// and what tells this process apart from any other started under the same id (migration 0012).
///
/// **Why a token.** `instance.id` is a setting, and settings get copied: two daemons started with the same
/// configuration, or a manual `mtsync run` beside the systemd one, used to both find every lease "theirs" and
/// work the same servers side by side. A lease is now its holder's only when owner and token both match.
///
/// **Alive or gone.** The token is also the key of a session-level advisory lock the process holds while it runs
/// (`markAlive`). PostgreSQL drops it the moment the session ends: a clean exit, a crash, `kill -9` (the kernel
/// closes the socket and the server notices at once). A lease of this instance whose token's lock nobody holds
/// was left by a dead process, and the instance takes it back without waiting for it to expire
/// (`ServerLease.acquire`).
public struct LeaseHolder: Sendable, Hashable, CustomStringConvertible {
    /// The configured `instance.id`: a lease's `owner`.
    public var instanceID: String
    /// Random per process; the key of its advisory lock.
    public var token: Int64
    /// Where the process runs, for the messages and screens that name a holder.
    public var host: String
    public var pid: Int32

    public init(instanceID: String, token: Int64, host: String, pid: Int32) {
        self.instanceID = instanceID
        self.token = token
        self.host = host
        self.pid = pid
    }

    /// This process, with a fresh random token.
    public static func thisProcess(instanceID: String) -> LeaseHolder {
        LeaseHolder(
            instanceID: instanceID, token: Int64.random(in: .min ... .max), host: ProcessInfo.processInfo.hostName,
            pid: ProcessInfo.processInfo.processIdentifier)
    }

    /// `prod-1 (host mt-sync-a, pid 4242)`
    public var description: String { Self.describe(instanceID: instanceID, host: host, pid: pid) }

    static func describe(instanceID: String, host: String?, pid: Int32?) -> String {
        guard let host, let pid else { return instanceID }
        return "\(instanceID) (host \(host), pid \(pid))"
    }

    /// Takes this process's advisory lock on `connection`'s session, so that others see the process alive while
    /// the session lasts. Idempotent within a session. A session that ends (the process died, or the connection
    /// dropped) makes the process look gone: whoever holds the connection must mark it alive again after a
    /// reconnection (`backendPID` changes), as `InstanceClaim` does.
    public func markAlive(on connection: PostgresConnection) async throws(PostgresError) {
        try await connection.query("""
            SELECT pg_advisory_lock(p.token) FROM (SELECT \(token)::bigint AS token) p
            WHERE NOT \(unsafeSQL: Self.alive(token: "p.token", session: "pg_backend_pid()"))
            """, name: "mark this process alive")
    }

    /// Whether the process whose token is `token` (a SQL expression) holds its advisory lock now, as SQL. With
    /// `session`, only that backend's lock counts. A NULL token (a lease written before migration 0012) is never
    /// alive. pg_locks shows a bigint key as its high half in `classid` and its low half in `objid`, with
    /// `objsubid` 1; advisory locks are per database.
    static func alive(token: String, session: String? = nil) -> String {
        """
        EXISTS (SELECT 1 FROM pg_locks advisory
                WHERE advisory.locktype = 'advisory' AND advisory.granted AND advisory.objsubid = 1
                  AND advisory.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND advisory.classid::bigint = (\(token) >> 32) & 4294967295 AND advisory.objid::bigint = \(token) & 4294967295
                  \(session.map { "AND advisory.pid = \($0)" } ?? ""))
        """
    }
}
