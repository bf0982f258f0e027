import Foundation

/// One daemon per instance id (migration 0012, `instances`): `mtsync run` holds a session-level advisory lock keyed
/// on its `instance.id` for its whole life, on a session of its own, and records itself in `instances` when it
/// takes it. A second daemon started with the same id cannot take the lock; what it finds in `instances` names the
/// process that runs the instance (host, pid, start), for its refusal.
///
/// PostgreSQL releases the lock when the holder's session ends, so a daemon killed with `kill -9` and restarted
/// takes the lock again at once. A machine that vanishes (power loss) leaves its session open until the server's
/// TCP keep-alive gives up on it; the lock's session asks for short keep-alives (`take`) so that is under a
/// minute rather than the kernel's two hours.
///
/// The key is a 64-bit hash of the id (`hashtextextended`): two different ids sharing a key is a 1 in 2^64 chance.
public enum InstanceLock {
    /// The process recorded as running an instance.
    public struct Running: Sendable, Hashable, Codable, CustomStringConvertible {
        public var instanceID: String
        public var host: String
        public var pid: Int32
        public var startedAt: Date
        /// Whether some session holds the instance lock now; false once the process has ended (its row stays).
        public var alive: Bool

        public var description: String {
            "\(instanceID) runs on host \(host) as pid \(pid), started \(startedAt.formatted(.iso8601))\(alive ? "" : " (its lock is free now: it has ended)")"
        }
    }

    public enum Outcome: Sendable, Hashable {
        /// This session holds the instance lock; the process is recorded in `instances`.
        case taken
        /// Another session holds it: the process recorded as running the instance, when there is a record.
        case running(Running?)
    }

    /// Tries to take `holder`'s instance lock on `connection`'s session (without waiting) and, when it does,
    /// records the process in `instances`. Taking it again in the session that holds it is harmless.
    ///
    /// The session's TCP keep-alives are shortened first (idle 15 s, then every 5 s, 3 misses): PostgreSQL then
    /// notices a holder whose machine vanished within about half a minute and frees its lock. They only apply to
    /// TCP sessions (a Unix socket's peer cannot vanish without the kernel knowing).
    public static func take(_ holder: LeaseHolder, startedAt: Date, on connection: PostgresConnection) async throws -> Outcome {
        let id = holder.instanceID, token = holder.token, host = holder.host, pid = holder.pid
        let startedMilliseconds = Int64((startedAt.timeIntervalSince1970 * 1000).rounded())
        let taken = try await connection.run { connection in
            try connection.query("SET tcp_keepalives_idle = 15", name: "instance lock: keep-alive")
            try connection.query("SET tcp_keepalives_interval = 5", name: "instance lock: keep-alive")
            try connection.query("SET tcp_keepalives_count = 3", name: "instance lock: keep-alive")
            let rows = try connection.query("""
                SELECT CASE WHEN \(unsafeSQL: LeaseHolder.alive(token: "k.key", session: "pg_backend_pid()")) THEN true
                            ELSE pg_try_advisory_lock(k.key) END
                FROM (SELECT hashtextextended('mtsync instance ' || \(id)::text, 0) AS key) k
                """, name: "take the instance lock")
            guard try rows[0].decode(Bool.self, 0) else { return false }
            try connection.query("""
                INSERT INTO instances (instance_id, token, host, pid, started_at, locked_at)
                VALUES (\(id), \(token), \(host), \(pid), to_timestamp(\(startedMilliseconds) / 1000.0), now())
                ON CONFLICT (instance_id) DO UPDATE SET
                    token = EXCLUDED.token, host = EXCLUDED.host, pid = EXCLUDED.pid, started_at = EXCLUDED.started_at, locked_at = now()
                """, name: "record the instance's process")
            return true
        }
        if taken { return .taken }
        return .running(try await running(instanceID: id, on: connection))
    }

    /// Whether `holder`'s instance lock is held by `connection`'s current session and `instances` names this
    /// process: false after the session was lost (a reconnection is a new session, without the lock) or when
    /// another process took the instance meanwhile.
    public static func isHeld(by holder: LeaseHolder, on connection: PostgresConnection) async throws(PostgresError) -> Bool {
        let rows = try await connection.query("""
            SELECT \(unsafeSQL: LeaseHolder.alive(token: "k.key", session: "pg_backend_pid()"))
                   AND EXISTS (SELECT 1 FROM instances WHERE instance_id = \(holder.instanceID) AND token = \(holder.token))
            FROM (SELECT hashtextextended('mtsync instance ' || \(holder.instanceID)::text, 0) AS key) k
            """, name: "check the instance lock")
        return try rows[0].decode(Bool.self, 0)
    }

    /// The process recorded as running `instanceID` (the last to take its lock), nil when none ever did.
    public static func running(instanceID: String, on connection: PostgresConnection) async throws(PostgresError) -> Running? {
        let rows = try await connection.query("""
            SELECT i.host, i.pid, floor(extract(epoch FROM i.started_at) * 1000)::bigint,
                   \(unsafeSQL: LeaseHolder.alive(token: key("i.instance_id")))
            FROM instances i WHERE i.instance_id = \(instanceID)
            """, name: "read the instance's process")
        guard let row = rows.first else { return nil }
        return Running(
            instanceID: instanceID, host: try row.decode(String.self, 0), pid: try row.decode(Int32.self, 1),
            startedAt: Date(timeIntervalSince1970: Double(try row.decode(Int64.self, 2)) / 1000), alive: try row.decode(Bool.self, 3))
    }

    /// The lock's key for the instance id in the SQL expression `id` (`take` and `isHeld` spell the same with
    /// the id as a parameter).
    static func key(_ id: String) -> String { "hashtextextended('mtsync instance ' || (\(id))::text, 0)" }
}
