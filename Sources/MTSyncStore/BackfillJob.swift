import MTSyncCore

/// A bounded, resumable backfill (`jobs` and `job_chunks`, migration 0001): the half-open range is cut into
/// chunks; each chunk is marked done after its pages are stored, so a crashed or killed backfill resumes at the
/// first chunk not done. At most one live job per (server, range) exists (a unique index): a second cron run of
/// the same backfill joins the live job instead of starting another.
public struct BackfillJob: Sendable, Hashable {
    public struct Chunk: Sendable, Hashable {
        public var fromMilliseconds: Int64
        public var toMilliseconds: Int64
    }

    public let jobID: Int64
    public let pending: [Chunk]
    public let done: Int

    /// Opens the live job for this range (creating it and its chunks when there is none) and returns the chunks
    /// still to do.
    public static func open(
        serverID: ServerID, fromMilliseconds from: Int64, toMilliseconds to: Int64, chunkMilliseconds chunk: Int64, owner: String,
        on connection: PostgresConnection
    ) async throws -> BackfillJob {
        try await connection.transaction(name: "open backfill job") { connection in
            let server = serverID.rawValue
            var rows = try connection.query("""
                SELECT job_id FROM jobs WHERE kind = 'backfill' AND server_id = \(server) AND range_from_server_msc = \(from)
                   AND range_to_server_msc = \(to) AND state IN ('pending', 'running') FOR UPDATE
                """, name: "find live backfill")
            if rows.isEmpty {
                rows = try connection.query("""
                    INSERT INTO jobs (kind, server_id, range_from_server_msc, range_to_server_msc, chunk_msc, owner)
                    VALUES ('backfill', \(server), \(from), \(to), \(chunk), \(owner)) RETURNING job_id
                    """, name: "create backfill job")
                let jobID = try rows[0].decode(Int64.self, 0)
                try connection.query("""
                    INSERT INTO job_chunks (job_id, chunk_from_server_msc, chunk_to_server_msc)
                    SELECT \(jobID), start, least(start + \(chunk)::bigint, \(to)::bigint)
                    FROM generate_series(\(from)::bigint, \(to)::bigint - 1, \(chunk)::bigint) AS start
                    """, name: "create backfill chunks")
            }
            let jobID = try rows[0].decode(Int64.self, 0)
            try connection.query("""
                UPDATE jobs SET state = 'running', owner = \(owner), started_at = coalesce(started_at, now()), heartbeat_at = now() WHERE job_id = \(jobID)
                """, name: "start backfill job")
            let chunks = try connection.query("""
                SELECT chunk_from_server_msc, chunk_to_server_msc, state FROM job_chunks WHERE job_id = \(jobID) ORDER BY chunk_from_server_msc
                """, name: "list backfill chunks")
            var pending: [Chunk] = []
            var done = 0
            for row in chunks {
                if try row.decode(String.self, 2) == "done" {
                    done += 1
                } else {
                    pending.append(Chunk(fromMilliseconds: try row.decode(Int64.self, 0), toMilliseconds: try row.decode(Int64.self, 1)))
                }
            }
            return BackfillJob(jobID: jobID, pending: pending, done: done)
        }
    }

    /// Marks a chunk done (after all its pages were stored) with how many records it held.
    public func finish(_ chunk: Chunk, records: Int, on connection: PostgresConnection) async throws(PostgresError) {
        try await connection.query("""
            UPDATE job_chunks SET state = 'done', records = \(records), finished_at = now()
            WHERE job_id = \(jobID) AND chunk_from_server_msc = \(chunk.fromMilliseconds)
            """, name: "finish backfill chunk")
        try await connection.query("UPDATE jobs SET heartbeat_at = now() WHERE job_id = \(jobID)", name: "backfill heartbeat")
    }

    /// Ends the job: succeeded, or failed with the reason (a later run of the same range starts a new job and
    /// redoes it; storing is idempotent).
    public func complete(error: String? = nil, on connection: PostgresConnection) async throws(PostgresError) {
        try await connection.query("""
            UPDATE jobs SET state = \(error == nil ? "succeeded" : "failed"), finished_at = now(), last_error = \(error) WHERE job_id = \(jobID)
            """, name: "complete backfill job")
    }
}
