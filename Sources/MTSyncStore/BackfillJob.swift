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
                // Announced in the transaction that creates the job: the ingest hears of every job exactly once.
                try connection.query(PostgresQuery(sql: Self.announceStarted, parameters: [String(jobID)]), name: "announce backfill started")
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
    ///
    /// A job that succeeds announces `backfill.completed` in the same transaction: the range's live facts, per
    /// login, and the checksum the ingest verifies its copy against (docs/ingest.md, "Completeness"). Its events
    /// are behind the facts' in the outbox, so they reach the ingest after the facts they sum up.
    public func complete(error: String? = nil, on connection: PostgresConnection) async throws {
        let jobID = self.jobID
        try await connection.transaction(name: "complete backfill job") { connection in
            try connection.query("""
                UPDATE jobs SET state = \(error == nil ? "succeeded" : "failed"), finished_at = now(), last_error = \(error) WHERE job_id = \(jobID)
                """, name: "complete backfill job")
            if error == nil {
                try connection.query(PostgresQuery(sql: Self.announceCompleted, parameters: [String(jobID), String(Self.loginsPerPart)]), name: "announce backfill completed")
            }
        }
    }

    /// Logins per `backfill.completed` event: about 70 bytes each, so a part stays far below any message limit.
    static let loginsPerPart = 1_000

    /// Server time (ms since 1970 on the server's wall clock) as the facts' `server_time` writes it.
    static func serverTimeSQL(_ column: String) -> String {
        "to_char(timestamp 'epoch' + \(column) * interval '1 millisecond', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS')"
    }

    /// $1 the job. The marker's own fields, shared by both events.
    static let markerFieldsSQL = """
        'job_id', j.job_id, 'server', s.server_id, 'platform', s.platform,
        'from', \(serverTimeSQL("j.range_from_server_msc")), 'to', \(serverTimeSQL("j.range_to_server_msc")),
        'chunks', (SELECT count(*) FROM job_chunks c WHERE c.job_id = j.job_id)
        """

    static let announceStarted = """
        INSERT INTO outbox (server_id, event_kind, idempotency_key, payload, backfill_job_id)
        SELECT s.server_id, 'backfill.started', s.server_id || ':backfill:' || j.job_id || ':started',
               jsonb_build_object(\(markerFieldsSQL)), j.job_id
        FROM jobs j JOIN servers s ON s.server_id = j.server_id WHERE j.job_id = $1::bigint
        """

    /// $1 the job, $2 logins per part. One event, or `parts` events each with a slice of the logins (and the whole
    /// range's `facts` and `checksum`). Lots count non-technical trades, net every fact; deleted facts not at all.
    static let announceCompleted = """
        WITH job AS (
            SELECT j.*, s.platform FROM jobs j JOIN servers s ON s.server_id = j.server_id WHERE j.job_id = $1::bigint
        ), live AS (
            SELECT t.login, t.idempotency_key, t.kind, t.technical, t.lots, t.net
            FROM trading_facts t, job
            WHERE t.server_id = job.server_id AND NOT t.deleted AND t.excluded_reason IS NULL
              AND t.server_time_msc >= job.range_from_server_msc AND t.server_time_msc < job.range_to_server_msc
        ), totals AS (
            SELECT count(*) AS facts,
                   encode(sha256(convert_to(coalesce(string_agg(idempotency_key || E'\\n', '' ORDER BY idempotency_key COLLATE "C"), ''), 'UTF8')), 'hex') AS checksum
            FROM live
        ), per_login AS (
            SELECT login, (row_number() OVER (ORDER BY login) - 1) / $2::int AS part_index,
                   jsonb_build_object('login', login, 'facts', count(*),
                       'lots', trim_scale(coalesce(sum(lots) FILTER (WHERE kind = 'trade' AND NOT technical), 0))::text,
                       'net', trim_scale(sum(net))::text) AS entry
            FROM live GROUP BY login
        ), parts AS (
            SELECT part_index, jsonb_agg(entry ORDER BY login) AS logins FROM per_login GROUP BY part_index
            UNION ALL SELECT 0, '[]'::jsonb WHERE NOT EXISTS (SELECT 1 FROM per_login)
        ), counted AS (
            SELECT parts.*, count(*) OVER () AS parts FROM parts
        )
        INSERT INTO outbox (server_id, event_kind, idempotency_key, payload, backfill_job_id)
        SELECT job.server_id, 'backfill.completed',
               job.server_id || ':backfill:' || job.job_id || ':completed' || CASE WHEN counted.parts > 1 THEN ':' || (counted.part_index + 1) ELSE '' END,
               jsonb_build_object(
                   'job_id', job.job_id, 'server', job.server_id, 'platform', job.platform,
                   'from', \(serverTimeSQL("job.range_from_server_msc")), 'to', \(serverTimeSQL("job.range_to_server_msc")),
                   'chunks', (SELECT count(*) FROM job_chunks c WHERE c.job_id = job.job_id),
                   'facts', totals.facts, 'logins', counted.logins, 'checksum', totals.checksum)
               || CASE WHEN counted.parts > 1 THEN jsonb_build_object('part', counted.part_index + 1, 'parts', counted.parts) ELSE '{}'::jsonb END,
               job.job_id
        FROM job, totals, counted ORDER BY counted.part_index
        """
}
