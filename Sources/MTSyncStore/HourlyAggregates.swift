/// Hourly aggregates per trader (docs/ingest.md, "aggregate.hourly"; migration 0007), over the facts that count (not
/// deleted, not excluded by their account's decision): the store marks each
/// (server, login, UTC hour) a page changed; `emitDue` takes the marked hours that closed more than `grace` ago,
/// sums their live facts and, where the sums differ from what was emitted before, records a new revision and
/// enqueues one `aggregate.hourly` event — all in one transaction, so a crash emits a revision whole or not at all.
public enum HourlyAggregates {
    /// Emits the due hours, `limit` at a time, until none is left.
    /// - Returns: how many `aggregate.hourly` events were enqueued.
    @discardableResult
    public static func emitDue(grace: Duration, limit: Int = 2_000, on connection: PostgresConnection) async throws -> Int {
        var emitted = 0
        while !Task.isCancelled {
            let (taken, events) = try await connection.transaction(name: "emit hourly aggregates") { connection in
                let row = try connection.query(PostgresQuery(sql: emitSQL, parameters: [String(grace.fractionalSeconds), String(limit)]), name: "emit hourly aggregates")
                return (try row[0].decode(Int.self, 0), try row[0].decode(Int.self, 1))
            }
            emitted += events
            if taken < limit { break }
        }
        return emitted
    }

    /// Hours marked and not yet due (still open or inside the grace period), for `mtsync status`.
    public static func waiting(on connection: PostgresConnection) async throws -> Int {
        try await connection.query("SELECT count(*) FROM aggregate_hours_dirty", name: "count marked hours")[0].decode(Int.self, 0)
    }

    /// A decimal sum as the facts write decimals: exact, no trailing zeros, "0" for nothing.
    private static func decimal(_ expression: String) -> String {
        "trim_scale(coalesce(\(expression), 0))::text"
    }

    /// $1 the grace in seconds, $2 the most hours taken. Returns the hours taken and the events enqueued.
    /// Hours whose facts all went and that were never emitted emit nothing; once emitted, they are re-emitted
    /// with `deals: 0`.
    static let emitSQL = """
        WITH due AS (
            DELETE FROM aggregate_hours_dirty d USING (
                SELECT server_id, login, hour_start FROM aggregate_hours_dirty
                WHERE hour_start + interval '1 hour' + make_interval(secs => $1::double precision) <= now()
                ORDER BY hour_start LIMIT $2::int FOR UPDATE SKIP LOCKED
            ) picked
            WHERE d.server_id = picked.server_id AND d.login = picked.login AND d.hour_start = picked.hour_start
            RETURNING d.server_id, d.login, d.hour_start
        ), computed AS (
            SELECT due.server_id, due.login, due.hour_start, sums.deals,
                   jsonb_strip_nulls(jsonb_build_object(
                       'server', due.server_id, 'platform', s.platform, 'login', due.login,
                       'hour_start', to_char(due.hour_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:00:00"Z"'),
                       'hour_end', to_char((due.hour_start + interval '1 hour') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:00:00"Z"'),
                       'currency', sums.currency, 'deals', sums.deals, 'lots', sums.lots, 'net', sums.net, 'profit', sums.profit,
                       'swap', sums.swap, 'commission', sums.commission, 'fee', sums.fee, 'taxes', sums.taxes,
                       'by_kind', coalesce((
                           SELECT jsonb_object_agg(kind, jsonb_build_object('deals', n, 'lots', l, 'net', x))
                           FROM (SELECT f.kind, count(*) AS n,
                                        \(decimal("sum(f.lots) FILTER (WHERE f.kind = 'trade' AND NOT f.technical)")) AS l,
                                        \(decimal("sum(f.net)")) AS x
                                 FROM trading_facts f
                                 WHERE f.server_id = due.server_id AND f.login = due.login AND NOT f.deleted AND f.excluded_reason IS NULL
                                   AND f.time_utc >= due.hour_start AND f.time_utc < due.hour_start + interval '1 hour'
                                 GROUP BY f.kind) k), '{}'::jsonb),
                       'by_symbol', coalesce((
                           SELECT jsonb_agg(jsonb_build_object('symbol_canonical', sc, 'deals', n, 'lots', l, 'notional', nt) ORDER BY sc)
                           FROM (SELECT f.symbol_canonical AS sc, count(*) AS n, \(decimal("sum(f.lots)")) AS l,
                                        \(decimal("sum(f.lots * f.contract_size * f.price)")) AS nt
                                 FROM trading_facts f
                                 WHERE f.server_id = due.server_id AND f.login = due.login AND NOT f.deleted AND f.excluded_reason IS NULL
                                   AND f.time_utc >= due.hour_start AND f.time_utc < due.hour_start + interval '1 hour'
                                   AND f.kind = 'trade' AND NOT f.technical AND f.symbol_canonical IS NOT NULL
                                 GROUP BY f.symbol_canonical) y), '[]'::jsonb)
                   )) AS body
            FROM due
            JOIN servers s ON s.server_id = due.server_id
            CROSS JOIN LATERAL (
                SELECT count(*) AS deals, max(f.currency) AS currency,
                       \(decimal("sum(f.lots) FILTER (WHERE f.kind = 'trade' AND NOT f.technical)")) AS lots,
                       \(decimal("sum(f.net)")) AS net, \(decimal("sum(f.profit)")) AS profit, \(decimal("sum(f.swap)")) AS swap,
                       \(decimal("sum(f.commission)")) AS commission, \(decimal("sum(f.fee)")) AS fee, \(decimal("sum(f.taxes)")) AS taxes
                FROM trading_facts f
                WHERE f.server_id = due.server_id AND f.login = due.login AND NOT f.deleted AND f.excluded_reason IS NULL
                  AND f.time_utc >= due.hour_start AND f.time_utc < due.hour_start + interval '1 hour'
            ) sums
        ), changed AS (
            INSERT INTO hourly_aggregates AS h (server_id, login, hour_start, revision, body_hash, payload)
            SELECT c.server_id, c.login, c.hour_start, 1, md5(c.body::text), c.body FROM computed c
            WHERE c.deals > 0 OR EXISTS (
                SELECT 1 FROM hourly_aggregates e WHERE e.server_id = c.server_id AND e.login = c.login AND e.hour_start = c.hour_start)
            ON CONFLICT (server_id, login, hour_start) DO UPDATE
               SET revision = h.revision + 1, body_hash = EXCLUDED.body_hash, payload = EXCLUDED.payload, emitted_at = now()
             WHERE h.body_hash <> EXCLUDED.body_hash
            RETURNING h.server_id, h.login, h.hour_start, h.revision, h.payload
        ), events AS (
            INSERT INTO outbox (server_id, event_kind, idempotency_key, payload)
            SELECT server_id, 'aggregate.hourly',
                   server_id || ':agg:' || login || ':' || to_char(hour_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24') || ':' || revision,
                   payload || jsonb_build_object('revision', revision)
            FROM changed
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM due), (SELECT count(*) FROM events)
        """
}
