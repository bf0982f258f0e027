import Foundation
import MTSyncCore

/// The daily feed's tables (migration 0008; docs/ingest.md, "The daily feed"): marked login days, customer days to
/// recompute, the last row queued per customer day, and the batches to send. The decisions — which logins count,
/// cent and currency rules, packing — are the caller's; this type only reads and writes, inside the caller's
/// transaction where one is needed.
public enum DailyFeedStore {
    /// Serializes the feed's builders across instances: two builders deciding the same customer's revision at
    /// once would queue two different rows for one revision. Held to the end of the transaction.
    public static func lockBuilder(on connection: isolated PostgresConnection) throws {
        try connection.query("SELECT pg_advisory_xact_lock(7270001008)", name: "lock the feed builder")
    }

    // MARK: - Login marks → customer days

    /// Marked login days not held, oldest first, locked until the transaction ends.
    public static func openLoginMarks(limit: Int, on connection: isolated PostgresConnection) throws -> [LoginMark] {
        try connection.query("""
            SELECT d.server_id, d.login, d.utc_day::text, a.login IS NOT NULL, a.account_group, a.customer_id,
                   EXISTS (SELECT 1 FROM trading_facts f
                           WHERE f.server_id = d.server_id AND f.login = d.login AND NOT f.deleted AND f.excluded_reason IS NULL
                             AND f.time_utc >= (d.utc_day::timestamp AT TIME ZONE 'UTC')
                             AND f.time_utc < ((d.utc_day + 1)::timestamp AT TIME ZONE 'UTC'))
            FROM feed_login_days_dirty d LEFT JOIN accounts a ON a.server_id = d.server_id AND a.login = d.login
            WHERE NOT d.held ORDER BY d.utc_day, d.server_id, d.login LIMIT \(limit) FOR UPDATE OF d
            """, name: "read marked login days").map { row in
            LoginMark(
                server: try row.decode(String.self, 0), login: UInt64(bitPattern: try row.decode(Int64.self, 1)), utcDay: try row.decode(String.self, 2),
                accountKnown: try row.decode(Bool.self, 3), group: try row.decode(String?.self, 4), customerID: try row.decode(String?.self, 5),
                hasCountedFacts: try row.decode(Bool.self, 6))
        }
    }

    /// Turns released marks into the customer days they touch (every trading day the UTC day overlaps), holds
    /// the marks of logins without a customer id, and drops the marks of logins none of whose facts count.
    public static func settleLoginMarks(released: [LoginMark], held: [LoginMark], dropped: [LoginMark], day: TradingDayRule, on connection: isolated PostgresConnection) throws {
        if !released.isEmpty {
            try connection.query(PostgresQuery(sql: """
                WITH days AS (
                    SELECT DISTINCT m.customer_id, g::date AS day
                    FROM unnest($1::text[], $2::date[]) AS m(customer_id, utc_day)
                    CROSS JOIN LATERAL generate_series(
                        (((m.utc_day::timestamp AT TIME ZONE 'UTC') AT TIME ZONE $3) + make_interval(secs => $4::int))::date,
                        ((((m.utc_day + 1)::timestamp AT TIME ZONE 'UTC' - interval '1 microsecond') AT TIME ZONE $3) + make_interval(secs => $4::int))::date,
                        interval '1 day') AS g
                ), snapshots AS (
                    -- The customer's tier snapshots from that day on: deposits to date, 30-day volume and open lots carry forward.
                    \(SnapshotStore.markSQL(source: "SELECT customer_id, day FROM days"))
                )
                INSERT INTO feed_customer_days_dirty (customer_id, day) SELECT customer_id, day FROM days
                ON CONFLICT (customer_id, day) DO NOTHING
                """, parameters: [
                    PostgresArray(released.map { $0.customerID ?? "" }).postgresText, PostgresArray(released.map(\.utcDay)).postgresText,
                    day.zone, String(day.shiftSeconds),
                ]), name: "mark customer days")
        }
        let gone = released + dropped
        if !gone.isEmpty {
            try connection.query(PostgresQuery(sql: """
                DELETE FROM feed_login_days_dirty d USING unnest($1::text[], $2::bigint[], $3::date[]) AS m(server_id, login, utc_day)
                WHERE d.server_id = m.server_id AND d.login = m.login AND d.utc_day = m.utc_day
                """, parameters: markArrays(gone)), name: "settle marked login days")
        }
        if !held.isEmpty {
            try connection.query(PostgresQuery(sql: """
                UPDATE feed_login_days_dirty d SET held = true FROM unnest($1::text[], $2::bigint[], $3::date[]) AS m(server_id, login, utc_day)
                WHERE d.server_id = m.server_id AND d.login = m.login AND d.utc_day = m.utc_day
                """, parameters: markArrays(held)), name: "hold login days without a customer")
        }
    }

    private static func markArrays(_ marks: [LoginMark]) -> [String?] {
        [PostgresArray(marks.map(\.server)).postgresText, PostgresArray(marks.map { Int64(bitPattern: $0.login) }).postgresText, PostgresArray(marks.map(\.utcDay)).postgresText]
    }

    // MARK: - Customer days → rows

    /// Customer days to recompute after `after` in (day, customer) order, with the reason each is held, if it is.
    public static func dirtyCustomerDays(after: CustomerDay?, limit: Int, on connection: isolated PostgresConnection) throws -> [CustomerDay] {
        try connection.query("""
            SELECT customer_id, day::text FROM feed_customer_days_dirty
            WHERE \(after == nil) OR (day, customer_id) > (\(after?.day)::date, \(after?.customerID))
            ORDER BY day, customer_id LIMIT \(limit) FOR UPDATE
            """, name: "read customer days").map { row in
            CustomerDay(customerID: try row.decode(String.self, 0), day: try row.decode(String.self, 1))
        }
    }

    /// Every customer day with facts whose trading day lies in [from, to] (dates), for a backfill's resend.
    public static func customerDays(fromDay: String, toDay: String, servers: [String]?, day: TradingDayRule, on connection: isolated PostgresConnection) throws -> [CustomerDay] {
        try connection.query(PostgresQuery(sql: """
            SELECT DISTINCT a.customer_id, ((f.time_utc AT TIME ZONE $3) + make_interval(secs => $4::int))::date::text AS day
            FROM trading_facts f JOIN accounts a ON a.server_id = f.server_id AND a.login = f.login
            WHERE a.customer_id IS NOT NULL AND NOT f.deleted AND f.excluded_reason IS NULL
              AND f.time_utc >= ((($1::date)::timestamp - make_interval(secs => $4::int)) AT TIME ZONE $3)
              AND f.time_utc < (((($2::date) + 1)::timestamp - make_interval(secs => $4::int)) AT TIME ZONE $3)
              AND ($5::text[] IS NULL OR f.server_id = ANY($5::text[]))
            ORDER BY day, a.customer_id
            """, parameters: [fromDay, toDay, day.zone, String(day.shiftSeconds), servers.map { PostgresArray($0).postgresText }]),
            name: "customer days of a range").map { row in
            CustomerDay(customerID: try row.decode(String.self, 0), day: try row.decode(String.self, 1))
        }
    }

    /// Per login of each customer day: its account and the day's sums, for logins with facts that day.
    public static func loginFigures(of days: [CustomerDay], day: TradingDayRule, deposits: DepositRule, on connection: isolated PostgresConnection) throws -> [CustomerDay: [LoginDaySums]] {
        guard !days.isEmpty else { return [:] }
        let rows = try connection.query(PostgresQuery(sql: """
            WITH cd AS (SELECT * FROM unnest($1::text[], $2::date[]) AS cd(customer_id, day))
            SELECT cd.customer_id, cd.day::text, a.server_id, a.login, a.account_group, a.currency,
                   trim_scale(coalesce(sum(CASE WHEN f.entry = 'inout' THEN f.closed_lots ELSE coalesce(f.closed_lots, f.lots) END)
                                       FILTER (WHERE f.kind = 'trade' AND f.entry IN ('out', 'inout', 'out_by') AND NOT f.technical), 0))::text,
                   count(*) FILTER (WHERE f.kind = 'trade' AND f.entry IN ('out', 'inout', 'out_by') AND NOT f.technical),
                   trim_scale(coalesce(sum(f.profit) FILTER (WHERE f.kind = ANY($5::text[]) AND f.profit > 0
                                                             AND NOT (coalesce(f.comment, '') ILIKE ANY($6::text[]))), 0))::text,
                   trim_scale(coalesce(-sum(f.profit) FILTER (WHERE f.kind = 'balance' AND f.profit < 0
                                                              AND NOT (coalesce(f.comment, '') ILIKE ANY($6::text[]))), 0))::text,
                   trim_scale(coalesce(sum(f.net) FILTER (WHERE f.kind = 'trade'), 0))::text,
                   count(*) FILTER (WHERE f.kind = 'trade' AND f.entry = 'inout' AND f.closed_lots IS NULL AND NOT f.technical)
            FROM cd
            JOIN accounts a ON a.customer_id = cd.customer_id
            JOIN trading_facts f ON f.server_id = a.server_id AND f.login = a.login AND NOT f.deleted AND f.excluded_reason IS NULL
                 AND f.time_utc >= ((cd.day::timestamp - make_interval(secs => $4::int)) AT TIME ZONE $3)
                 AND f.time_utc < (((cd.day + 1)::timestamp - make_interval(secs => $4::int)) AT TIME ZONE $3)
            GROUP BY cd.customer_id, cd.day, a.server_id, a.login, a.account_group, a.currency
            """, parameters: [
                PostgresArray(days.map(\.customerID)).postgresText, PostgresArray(days.map(\.day)).postgresText,
                day.zone, String(day.shiftSeconds), PostgresArray(deposits.kinds).postgresText, PostgresArray(deposits.likePatterns).postgresText,
            ]), name: "sum customer days")
        var result: [CustomerDay: [LoginDaySums]] = [:]
        for row in rows {
            let key = CustomerDay(customerID: try row.decode(String.self, 0), day: try row.decode(String.self, 1))
            result[key, default: []].append(LoginDaySums(
                server: try row.decode(String.self, 2), login: UInt64(bitPattern: try row.decode(Int64.self, 3)),
                group: try row.decode(String?.self, 4), currency: try row.decode(String?.self, 5),
                closedLots: try row.decode(String.self, 6), closingTrades: try row.decode(Int.self, 7),
                deposits: try row.decode(String.self, 8), withdrawals: try row.decode(String.self, 9), tradingNet: try row.decode(String.self, 10),
                unknownReversals: try row.decode(Int.self, 11)))
        }
        return result
    }

    /// One login's sums for a day, as exact decimal text.
    public struct LoginDaySums: Sendable, Hashable {
        public var server: String
        public var login: UInt64
        public var group: String?
        public var currency: String?
        public var closedLots: String
        public var closingTrades: Int
        public var deposits: String
        public var withdrawals: String
        public var tradingNet: String
        /// MT5 reversals (`inout`) the bridge sent without their closed volume: the day cannot be summed yet.
        public var unknownReversals: Int
    }

    /// The last row queued for each customer day that has one: its revision and the hash of what it sent.
    public static func previousRows(of days: [CustomerDay], on connection: isolated PostgresConnection) throws -> [CustomerDay: (revision: Int, hash: String)] {
        guard !days.isEmpty else { return [:] }
        var result: [CustomerDay: (revision: Int, hash: String)] = [:]
        for row in try connection.query(PostgresQuery(sql: """
            SELECT r.customer_id, r.day::text, r.revision, r.row_hash
            FROM feed_rows r JOIN unnest($1::text[], $2::date[]) AS cd(customer_id, day) ON r.customer_id = cd.customer_id AND r.day = cd.day
            """, parameters: [PostgresArray(days.map(\.customerID)).postgresText, PostgresArray(days.map(\.day)).postgresText]), name: "read queued rows") {
            result[CustomerDay(customerID: try row.decode(String.self, 0), day: try row.decode(String.self, 1))] = (try row.decode(Int.self, 2), try row.decode(String.self, 3))
        }
        return result
    }

    /// A row decided for the feed: its new revision, its figures and the batch that carries it.
    public struct QueuedRow: Sendable {
        public var day: CustomerDay
        public var revision: Int
        public var hash: String
        public var figuresJSON: String
        public var batchID: String

        public init(day: CustomerDay, revision: Int, hash: String, figuresJSON: String, batchID: String) {
            self.day = day
            self.revision = revision
            self.hash = hash
            self.figuresJSON = figuresJSON
            self.batchID = batchID
        }
    }

    /// A batch to send, as the packer made it.
    public struct NewBatch: Sendable {
        public var batchID: String
        public var transport: String
        public var rows: Int
        public var body: [UInt8]
        public var sha256: String

        public init(batchID: String, transport: String, rows: Int, body: [UInt8], sha256: String) {
            self.batchID = batchID
            self.transport = transport
            self.rows = rows
            self.body = body
            self.sha256 = sha256
        }
    }

    /// Records the decisions of one pass in the caller's transaction: the queued rows and their batches, the days
    /// settled (unchanged or queued: their marks go), the kept figures of rows not sent again, and the days held
    /// with their reason.
    /// - Returns: how many batches were new (a batch already recorded — the same rows at the same revisions — is
    ///   not queued twice).
    /// Where a feed keeps the last queued revision of each (customer, day) it sent.
    public enum SentRows: String, Sendable {
        case feedRows = "feed_rows"
        case snapshotRows = "snapshot_rows"
    }

    /// Records queued rows as the last sent revision of their (customer, day), in the caller's transaction.
    public static func upsert(_ queued: [QueuedRow], into table: SentRows, on connection: isolated PostgresConnection) throws {
        guard !queued.isEmpty else { return }
        try connection.query(PostgresQuery(sql: """
            INSERT INTO \(table.rawValue) AS r (customer_id, day, revision, row_hash, figures, batch_id)
            SELECT * FROM unnest($1::text[], $2::date[], $3::int[], $4::text[], $5::jsonb[], $6::text[])
            ON CONFLICT (customer_id, day) DO UPDATE
               SET revision = EXCLUDED.revision, row_hash = EXCLUDED.row_hash, figures = EXCLUDED.figures,
                   batch_id = EXCLUDED.batch_id, updated_at = now()
            """, parameters: [
                PostgresArray(queued.map(\.day.customerID)).postgresText, PostgresArray(queued.map(\.day.day)).postgresText,
                PostgresArray(queued.map(\.revision)).postgresText, PostgresArray(queued.map(\.hash)).postgresText,
                PostgresArray(queued.map(\.figuresJSON)).postgresText, PostgresArray(queued.map(\.batchID)).postgresText,
            ]), name: "record queued \(table.rawValue)")
    }

    @discardableResult
    public static func record(queued: [QueuedRow], batches: [NewBatch], origin: String, settled: [CustomerDay], refreshed: [(CustomerDay, String)] = [], held: [(CustomerDay, String)], on connection: isolated PostgresConnection) throws -> Int {
        let inserted = try insert(batches: batches, feed: "daily", origin: origin, on: connection)
        try upsert(queued, into: .feedRows, on: connection)
        if !refreshed.isEmpty {
            try connection.query(PostgresQuery(sql: """
                UPDATE feed_rows r SET figures = f.figures, updated_at = now()
                FROM unnest($1::text[], $2::date[], $3::jsonb[]) AS f(customer_id, day, figures)
                WHERE r.customer_id = f.customer_id AND r.day = f.day AND r.figures IS DISTINCT FROM f.figures
                """, parameters: [
                    PostgresArray(refreshed.map(\.0.customerID)).postgresText, PostgresArray(refreshed.map(\.0.day)).postgresText,
                    PostgresArray(refreshed.map(\.1)).postgresText,
                ]), name: "refresh kept figures")
        }
        if !settled.isEmpty {
            try connection.query(PostgresQuery(sql: """
                DELETE FROM feed_customer_days_dirty d USING unnest($1::text[], $2::date[]) AS s(customer_id, day)
                WHERE d.customer_id = s.customer_id AND d.day = s.day
                """, parameters: [PostgresArray(settled.map(\.customerID)).postgresText, PostgresArray(settled.map(\.day)).postgresText]), name: "settle customer days")
        }
        if !held.isEmpty {
            try connection.query(PostgresQuery(sql: """
                UPDATE feed_customer_days_dirty d SET held_reason = h.reason
                FROM unnest($1::text[], $2::date[], $3::text[]) AS h(customer_id, day, reason)
                WHERE d.customer_id = h.customer_id AND d.day = h.day
                """, parameters: [
                    PostgresArray(held.map(\.0.customerID)).postgresText, PostgresArray(held.map(\.0.day)).postgresText, PostgresArray(held.map(\.1)).postgresText,
                ]), name: "hold customer days")
        }
        return inserted
    }

    /// Queues `batches` of `feed` (`daily`, `snapshots`) behind every batch queued before; a batch already recorded
    /// (the same rows at the same revisions) is not queued twice. Returns how many were new.
    static func insert(batches: [NewBatch], feed: String, origin: String, on connection: isolated PostgresConnection) throws -> Int {
        var inserted = 0
        for batch in batches {
            inserted += try connection.query(PostgresQuery(sql: """
                INSERT INTO feed_batches (batch_id, transport, origin, rows, body, sha256, feed) VALUES ($1, $2, $3, $4::int, $5::bytea, $6, $7)
                ON CONFLICT (batch_id) DO NOTHING RETURNING 1
                """, parameters: [batch.batchID, batch.transport, origin, String(batch.rows), Data(batch.body).postgresText, batch.sha256, feed]),
                name: "queue a feed batch").count
        }
        return inserted
    }
}
