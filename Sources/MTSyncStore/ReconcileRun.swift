import MTSyncCore

/// A record of one reconcile (`jobs` rows of kind `reconcile`, migration 0001), so that
/// - the daemon's trailing reconcile runs on its schedule across restarts and instances (it is due when no
///   reconcile of the server succeeded within the interval), and
/// - `mtsync status` can say when a server was last reconciled and what that found.
///
/// The outcome (buckets compared, differing, repaired counts) is kept in the row's `options` next to the
/// request (`repair`), since a reconcile has no chunks to track: it is short and simply runs again if killed.
public struct ReconcileRun: Sendable, Hashable {
    public let jobID: Int64

    /// What a reconcile found, as kept in the job row.
    public struct Outcome: Sendable, Hashable, Codable {
        public var buckets: Int
        public var differing: Int
        public var inserted: Int
        public var updated: Int
        public var deleted: Int

        public init(buckets: Int, differing: Int, inserted: Int, updated: Int, deleted: Int) {
            self.buckets = buckets
            self.differing = differing
            self.inserted = inserted
            self.updated = updated
            self.deleted = deleted
        }
    }

    /// A reconcile left `running` longer than this was abandoned (its process died): it no longer blocks a new
    /// run of the same range. A three-day trailing reconcile takes seconds to minutes.
    static let abandonedAfterSeconds = 3600

    /// Records the start of a reconcile of `[from, to)`; nil when a live reconcile of the same server and range
    /// is running elsewhere (another instance, or a cron job) — then this one should not run.
    public static func begin(
        serverID: ServerID, fromMilliseconds from: Int64, toMilliseconds to: Int64, bucketMilliseconds bucket: Int64, repair: Bool, owner: String,
        on connection: PostgresConnection
    ) async throws -> ReconcileRun? {
        try await connection.transaction(name: "begin reconcile") { connection in
            let server = serverID.rawValue
            try connection.query("""
                UPDATE jobs SET state = 'failed', finished_at = now(), last_error = 'abandoned: still running after an hour (its process stopped)'
                WHERE kind = 'reconcile' AND server_id = \(server) AND state IN ('pending', 'running')
                  AND heartbeat_at < now() - make_interval(secs => \(abandonedAfterSeconds))
                """, name: "abandon stale reconciles")
            let options = repair ? #"{"repair": true}"# : #"{"repair": false}"#
            let rows = try connection.query("""
                INSERT INTO jobs (kind, server_id, range_from_server_msc, range_to_server_msc, chunk_msc, state, options, owner, started_at, heartbeat_at)
                VALUES ('reconcile', \(server), \(from), \(to), \(bucket), 'running', \(options)::jsonb, \(owner), now(), now())
                ON CONFLICT (kind, server_id, range_from_server_msc, range_to_server_msc) WHERE state IN ('pending', 'running') DO NOTHING
                RETURNING job_id
                """, name: "create reconcile job")
            guard let row = rows.first else { return nil }
            return ReconcileRun(jobID: try row.decode(Int64.self, 0))
        }
    }

    /// Marks the run succeeded with what it found.
    public func finish(_ outcome: Outcome, on connection: PostgresConnection) async throws(PostgresError) {
        try await connection.query("""
            UPDATE jobs SET state = 'succeeded', finished_at = now(), heartbeat_at = now(),
                   options = options || jsonb_build_object('buckets', \(outcome.buckets)::int, 'differing', \(outcome.differing)::int,
                       'inserted', \(outcome.inserted)::int, 'updated', \(outcome.updated)::int, 'deleted', \(outcome.deleted)::int)
            WHERE job_id = \(jobID)
            """, name: "finish reconcile job")
    }

    /// Marks the run failed; the next one is due at once.
    public func fail(_ message: String, on connection: PostgresConnection) async throws(PostgresError) {
        try await connection.query("""
            UPDATE jobs SET state = 'failed', finished_at = now(), last_error = \(message) WHERE job_id = \(jobID)
            """, name: "fail reconcile job")
    }

    /// True when no reconcile of the server succeeded in the last `interval` and none is running.
    public static func isDue(serverID: ServerID, every interval: Duration, on connection: PostgresConnection) async throws(PostgresError) -> Bool {
        let seconds = interval.components.seconds
        let rows = try await connection.query("""
            SELECT NOT EXISTS (
                SELECT 1 FROM jobs WHERE kind = 'reconcile' AND server_id = \(serverID.rawValue)
                  AND ((state = 'succeeded' AND finished_at > now() - make_interval(secs => \(seconds)))
                    OR (state = 'running' AND heartbeat_at > now() - make_interval(secs => \(abandonedAfterSeconds)))))
            """, name: "is a reconcile due")
        return try rows[0].decode(Bool.self, 0)
    }
}
