import MTSyncStore

/// PostgreSQL's own account of the relay's two statements per round — the claim and the mark — with
/// `EXPLAIN (ANALYZE, BUFFERS)` inside a transaction that is rolled back, so the outbox is left as it was.
/// The SQL is a copy of Outbox.claim and Outbox.markDelivered (they are not public as text); keep it in step.
struct QueryPlanProbe: Sendable {
    let connection: PostgresConnection

    /// The plans of claiming the first `limit` pending events of `serverID` and marking those same events
    /// delivered, as one round would.
    func explainRound(serverID: String, limit: Int) async throws -> (claim: [String], mark: [String]) {
        let ids = try await connection.query("""
            SELECT coalesce(array_agg(event_id ORDER BY event_id)::text, '{}') FROM (
                SELECT event_id FROM outbox WHERE server_id = \(serverID) AND delivered_at IS NULL AND parked_at IS NULL
                ORDER BY event_id LIMIT \(limit)) AS picked
            """, name: "pick a round's events")[0].decode(String.self, 0)
        return try await connection.run { connection in
            try connection.query("BEGIN", name: "BEGIN")
            defer { _ = try? connection.query("ROLLBACK", name: "ROLLBACK") }
            let claim = try connection.query("""
                EXPLAIN (ANALYZE, BUFFERS)
                WITH picked AS (
                    SELECT event_id FROM outbox
                    WHERE server_id = \(serverID) AND delivered_at IS NULL AND parked_at IS NULL AND available_at <= now()
                      AND (claimed_until IS NULL OR claimed_until < now())
                    ORDER BY event_id LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED)
                UPDATE outbox o SET claimed_by = 'plan-probe', claimed_until = now() + make_interval(secs => 120)
                FROM picked WHERE o.event_id = picked.event_id
                RETURNING o.event_id, o.event_kind, o.idempotency_key, (o.payload ->> 'login')::bigint, o.payload::text, o.attempts, o.backfill_job_id
                """, name: "explain the claim").map { try $0.decode(String.self, 0) }
            let mark = try connection.query("""
                EXPLAIN (ANALYZE, BUFFERS)
                UPDATE outbox SET delivered_at = now(), claimed_by = NULL, claimed_until = NULL
                WHERE event_id = ANY(\(ids)::bigint[]) AND delivered_at IS NULL
                """, name: "explain the mark").map { try $0.decode(String.self, 0) }
            return (claim, mark)
        }
    }
}
