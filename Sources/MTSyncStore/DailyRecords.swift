import MTSyncCore

/// The trade server's end-of-day records (migration 0011, `daily_records`), from the bridge's `daily` stream or a
/// drop's daily files: what the tier snapshots take each account's closing state from.
public enum DailyRecords {
    /// A validated record with the real instant its server day ends (the caller converts with the server's zone).
    public struct Closing: Sendable, Hashable {
        public var record: DailyRecord
        public var closeUTCMilliseconds: Int64

        public init(record: DailyRecord, closeUTCMilliseconds: Int64) {
            self.record = record
            self.closeUTCMilliseconds = closeUTCMilliseconds
        }
    }

    /// Stores `records` inside the caller's transaction (a corrected record replaces the earlier one), and marks the
    /// snapshots of the customers whose records changed from the day before theirs. Records of logins of which no
    /// account is known are not stored: they are returned, for the caller to quarantine.
    /// - Returns: how many records were new or changed, and those refused for an unknown login.
    public static func store(server: String, records: [Closing], source: String, on connection: isolated PostgresConnection) throws -> (changed: Int, unknownLogins: [Closing]) {
        guard !records.isEmpty else { return (0, []) }
        var latest: [String: Closing] = [:]
        for closing in records { latest["\(closing.record.login)|\(closing.record.day)"] = closing }
        let records = latest.values.sorted { ($0.record.day, $0.record.login) < ($1.record.day, $1.record.login) }
        func decimals(_ value: (DailyRecord) -> ExactDecimal?) -> String { PostgresArray(records.map { value($0.record)?.description }).postgresText }
        let rows = try connection.query(PostgresQuery(sql: """
            WITH incoming AS (
                SELECT * FROM unnest($2::bigint[], $3::date[], $4::timestamptz[], $5::bigint[], $6::text[], $7::numeric[], $8::numeric[],
                                     $9::numeric[], $10::numeric[], $11::numeric[], $12::numeric[], $13::numeric[])
                    AS i(login, day, close_utc, time_msc, currency, balance, credit, equity, profit, balance_prev, deposits, withdrawals)
            ), known AS (
                SELECT i.* FROM incoming i WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.server_id = $1 AND a.login = i.login)
            ), stored AS (
                INSERT INTO daily_records AS d (server_id, login, day, close_utc, time_msc, currency, balance, credit, equity, profit,
                                                balance_prev, deposits, withdrawals, source)
                SELECT $1, login, day, close_utc, time_msc, currency, balance, credit, equity, profit, balance_prev, deposits, withdrawals, $14
                FROM known
                ON CONFLICT (server_id, login, day) DO UPDATE
                   SET close_utc = EXCLUDED.close_utc, time_msc = EXCLUDED.time_msc, currency = EXCLUDED.currency, balance = EXCLUDED.balance,
                       credit = EXCLUDED.credit, equity = EXCLUDED.equity, profit = EXCLUDED.profit, balance_prev = EXCLUDED.balance_prev,
                       deposits = EXCLUDED.deposits, withdrawals = EXCLUDED.withdrawals, source = EXCLUDED.source, updated_at = now()
                 WHERE (d.close_utc, d.currency, d.balance, d.credit, d.equity, d.profit, d.balance_prev, d.deposits, d.withdrawals)
                       IS DISTINCT FROM (EXCLUDED.close_utc, EXCLUDED.currency, EXCLUDED.balance, EXCLUDED.credit, EXCLUDED.equity,
                                         EXCLUDED.profit, EXCLUDED.balance_prev, EXCLUDED.deposits, EXCLUDED.withdrawals)
                RETURNING d.login, d.day
            ), marked AS (
                \(SnapshotStore.markSQL(source: "SELECT a.customer_id, s.day - 1 AS day FROM stored s JOIN accounts a ON a.server_id = $1 AND a.login = s.login"))
            )
            SELECT 'stored', login, day::text FROM stored
            UNION ALL
            SELECT 'unknown', login, day::text FROM incoming i WHERE NOT EXISTS (SELECT 1 FROM known k WHERE k.login = i.login AND k.day = i.day)
            """, parameters: [
                server,
                PostgresArray(records.map { Int64(bitPattern: $0.record.login) }).postgresText,
                PostgresArray(records.map(\.record.dayText)).postgresText,
                PostgresArray(records.map { FactStore.timestampText(milliseconds: $0.closeUTCMilliseconds) }).postgresText,
                PostgresArray(records.map { $0.record.timeMilliseconds.map(String.init) }).postgresText,
                PostgresArray(records.map(\.record.currency)).postgresText,
                decimals(\.balance), decimals(\.credit), decimals(\.equity), decimals(\.profit), decimals(\.balancePrevious),
                decimals(\.deposits), decimals(\.withdrawals),
                source,
            ]), name: "store daily records")
        var changed = 0
        var unknown: Set<String> = []
        for row in rows {
            if try row.decode(String.self, 0) == "stored" {
                changed += 1
            } else {
                unknown.insert("\(UInt64(bitPattern: try row.decode(Int64.self, 1)))|\(try row.decode(String.self, 2))")
            }
        }
        return (changed, records.filter { unknown.contains("\($0.record.login)|\($0.record.dayText)") })
    }
}
