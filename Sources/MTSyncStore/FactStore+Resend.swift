extension FactStore {
    /// Queues every stored fact of `serverID` whose UTC time lies in `[fromMilliseconds, toMilliseconds)` (one
    /// login's, when given) as a new outbox event: its latest event again — `fact.created`, `fact.updated` or
    /// `fact.deleted` by its revision, with the same idempotency key and the same payload — for a receiver that lost
    /// what it was sent. A receiver that still has it drops the repeat by its key (docs/ingest.md, "Idempotency").
    ///
    /// Why it is needed: delivered events are pruned after `ingest.relay.keep_delivered`, and a fact that has not
    /// changed is never sent again by the sync or a backfill. One statement, one transaction; the events queue in
    /// the facts' time order.
    /// - Returns: how many events were queued.
    public static func resend(
        serverID: String, fromMilliseconds: Int64, toMilliseconds: Int64, login: UInt64? = nil, on connection: PostgresConnection
    ) async throws -> Int {
        let loginValue = login.map { Int64(bitPattern: $0) }
        // $1 the server, $2 and $3 the range in UTC milliseconds, $4 the login or NULL; the payload is our own SQL.
        let rows = try await connection.query(PostgresQuery(sql: """
            WITH queued AS (
                INSERT INTO outbox (server_id, fact_id, event_kind, idempotency_key, payload)
                SELECT server_id, fact_id,
                       CASE WHEN deleted OR excluded_reason IS NOT NULL THEN 'fact.deleted' WHEN revision = 1 THEN 'fact.created' ELSE 'fact.updated' END,
                       idempotency_key, \(payloadSQL)
                FROM trading_facts
                WHERE server_id = $1
                  -- An excluded fact goes only as the retraction of a revision that counted (a fact excluded from its
                  -- first revision was never sent).
                  AND (excluded_reason IS NULL OR revision > 1)
                  AND time_utc >= timestamptz 'epoch' + $2::bigint * interval '1 millisecond'
                  AND time_utc < timestamptz 'epoch' + $3::bigint * interval '1 millisecond'
                  AND ($4::bigint IS NULL OR login = $4::bigint)
                ORDER BY time_utc, fact_id
                RETURNING 1)
            SELECT count(*)::int FROM queued
            """, parameters: [serverID, String(fromMilliseconds), String(toMilliseconds), loginValue.map(String.init)]), name: "resend facts")
        return try rows[0].decode(Int.self, 0)
    }
}
