import MTSyncStore

/// PostgreSQL's own account of the relay's two statements per round — the claim and the mark — with
/// `EXPLAIN (ANALYZE, BUFFERS, WAL)` inside a transaction that is rolled back, so the outbox is left as it was.
struct QueryPlanProbe: Sendable {
    let connection: PostgresConnection

    /// The plans of claiming the first `limit` pending events of `serverID` and marking those same events
    /// delivered, as one round would.
    func explainRound(serverID: String, limit: Int, withLogins: Bool) async throws -> (claim: [String], mark: [String]) {
        let ids = try await connection.query("""
            SELECT event_id FROM outbox WHERE server_id = \(serverID) AND delivered_at IS NULL AND parked_at IS NULL
            ORDER BY event_id LIMIT \(limit)
            """, name: "pick a round's events").map { try $0.decode(Int64.self, 0) }
        return try await connection.run { connection in
            try connection.query("BEGIN", name: "BEGIN")
            defer { _ = try? connection.query("ROLLBACK", name: "ROLLBACK") }
            // The relay's own statements (`Outbox.claimQuery`, `markDeliveredQuery`), explained.
            let claimQuery = Outbox.claimQuery(serverID: serverID, owner: "plan-probe", limit: limit, claimFor: .seconds(120), after: 0, withLogins: withLogins)
            let markQuery = Outbox.markDeliveredQuery(ids)
            let claim = try connection.query(Self.explained(claimQuery), name: "explain the claim").map { try $0.decode(String.self, 0) }
            let mark = try connection.query(Self.explained(markQuery), name: "explain the mark").map { try $0.decode(String.self, 0) }
            return (claim, mark)
        }
    }

    static func explained(_ query: PostgresQuery) -> PostgresQuery {
        PostgresQuery(sql: "EXPLAIN (ANALYZE, BUFFERS, WAL) " + query.sql, parameters: query.parameters)
    }
}
