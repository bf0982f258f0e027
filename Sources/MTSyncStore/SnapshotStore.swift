import Foundation
import MTSyncCore

/// The tier snapshots' tables (migration 0011; docs/ingest.md, "Tier snapshots"): customers whose snapshots must be
/// decided again from a day on, what each decision reads — accounts, the facts' daily figures, the server's daily
/// records and the polled account money — and the last row queued per customer day. The decisions are the caller's;
/// the batches go to `feed_batches` (feed `snapshots`), sent in order with the daily feed's.
public enum SnapshotStore {
    /// SQL that marks the customers of `source` (rows of `customer_id`, `day`) from their earliest day on; an
    /// earlier mark keeps its earlier day, and a held customer is decided again.
    static func markSQL(source: String) -> String {
        """
        INSERT INTO snapshot_customers_dirty AS s (customer_id, from_day)
        SELECT customer_id, min(day) FROM (\(source)) m WHERE customer_id IS NOT NULL GROUP BY customer_id
        ON CONFLICT (customer_id) DO UPDATE SET from_day = least(s.from_day, EXCLUDED.from_day), held_reason = NULL, marked_at = now()
        """
    }

    /// Records that the trading days through `closedThrough` (`YYYY-MM-DD`) have closed. When that is later than the
    /// last round's, every customer with an account that had facts, a daily record or polled money since the first
    /// new day is marked from it (a snapshot is decided once its day has closed). The first round only records the
    /// day: the customers with history were marked when their facts were stored.
    public static func advance(closedThrough: String, day: TradingDayRule, on connection: isolated PostgresConnection) throws {
        let rows = try connection.query("SELECT closed_through::text FROM snapshot_progress FOR UPDATE", name: "read snapshot progress")
        guard let previous = try rows.first?.decode(String.self, 0) else {
            try connection.query("INSERT INTO snapshot_progress (closed_through) VALUES (\(closedThrough)::date)", name: "start snapshot progress")
            return
        }
        guard closedThrough > previous else { return }
        try connection.query(PostgresQuery(sql: """
            WITH start AS (
                SELECT ((($1::date + 1)::timestamp - make_interval(secs => $3::int)) AT TIME ZONE $2) AS at
            ), marked AS (
                \(markSQL(source: """
                    SELECT a.customer_id, $1::date + 1 AS day FROM accounts a, start
                    WHERE a.customer_id IS NOT NULL AND (
                        EXISTS (SELECT 1 FROM trading_facts f WHERE f.server_id = a.server_id AND f.login = a.login AND f.time_utc >= start.at)
                        OR EXISTS (SELECT 1 FROM daily_records d WHERE d.server_id = a.server_id AND d.login = a.login AND d.close_utc > start.at)
                        OR EXISTS (SELECT 1 FROM account_money_days m WHERE m.server_id = a.server_id AND m.login = a.login AND m.taken_at >= start.at))
                    """))
            )
            UPDATE snapshot_progress SET closed_through = $4::date, updated_at = now()
            """, parameters: [previous, day.zone, String(day.shiftSeconds), closedThrough]), name: "close snapshot days")
    }

    /// Marks `customers` from `fromDay` (`YYYY-MM-DD`) on: `backfill --snapshots`, `feed resend --snapshots`.
    public static func mark(customers: [String], fromDay: String, on connection: isolated PostgresConnection) throws {
        guard !customers.isEmpty else { return }
        try connection.query(PostgresQuery(sql: markSQL(source: "SELECT unnest($1::text[]) AS customer_id, $2::date AS day"), parameters: [
            PostgresArray(customers).postgresText, fromDay,
        ]), name: "mark snapshot customers")
    }

    /// A customer whose snapshots must be decided again from `fromDay` (`YYYY-MM-DD`) on.
    public struct DirtyCustomer: Sendable, Hashable {
        public var customerID: String
        public var fromDay: String
    }

    /// Marked customers after `after`, by id, locked until the transaction ends.
    public static func dirtyCustomers(after: String?, limit: Int, on connection: isolated PostgresConnection) throws -> [DirtyCustomer] {
        try connection.query("""
            SELECT customer_id, from_day::text FROM snapshot_customers_dirty
            WHERE \(after)::text IS NULL OR customer_id > \(after) ORDER BY customer_id LIMIT \(limit) FOR UPDATE
            """, name: "read snapshot customers").map { row in
            DirtyCustomer(customerID: try row.decode(String.self, 0), fromDay: try row.decode(String.self, 1))
        }
    }

    /// Every customer with an account on `servers` (all when nil).
    public static func customers(servers: [String]?, on connection: isolated PostgresConnection) throws -> [String] {
        try connection.query(PostgresQuery(sql: """
            SELECT DISTINCT customer_id FROM accounts WHERE customer_id IS NOT NULL AND ($1::text[] IS NULL OR server_id = ANY($1::text[]))
            ORDER BY customer_id
            """, parameters: [servers.map { PostgresArray($0).postgresText }]), name: "customers of servers").map { try $0.decode(String.self, 0) }
    }

    /// One account of a customer.
    public struct Account: Sendable, Hashable {
        public var customerID: String
        public var server: String
        public var login: UInt64
        public var currency: String?
        public var group: String?
    }

    /// One account's figures of one trading day, from the facts that count (every figure exact decimal text).
    public struct DayFigures: Sendable, Hashable {
        public var day: String
        /// Closed volume (docs/ingest.md, `closed_lots`).
        public var closedLots: String
        /// Closing trades without their closed volume (MT5 `inout` without VolumeClosed): the day cannot be summed.
        public var unknownReversals: Int
        /// Non-technical trade facts.
        public var trades: Int
        /// Change of the open volume. MT5: each position's volume replayed in deal order — in (+volume), out and
        /// out_by (−closed), inout (sets it to volume − closed) — from its first in or inout deal in the store (a
        /// position opened before the synced history is not known, so its closing deals are not counted against
        /// volume never seen), never below zero. MT4: open legs (+), close legs (−). Technical deals too (a rollover
        /// closes and reopens real positions).
        public var openDelta: String
        public var deposits: String
        public var withdrawals: String
    }

    /// An account's state at a trading day's close.
    public struct State: Sendable, Hashable {
        public enum Source: String, Sendable, Hashable {
            /// The trade server's own end-of-day record.
            case daily
            /// The money the accounts stream sent last before the close.
            case polled
        }

        public var day: String
        public var source: Source
        public var currency: String?
        public var balance: String?
        public var credit: String?
        public var equity: String?
    }

    /// Everything a snapshot decision reads for a set of customers, up to the trading day `toDay`.
    public struct Inputs: Sendable {
        public var accounts: [Account] = []
        /// Per "server:login", the facts' figures of every trading day up to `toDay` (for figures to date).
        public var figures: [String: [DayFigures]] = [:]
        /// Per "server:login", the closing states of the trading days from the earliest `fromDay` to `toDay`.
        public var states: [String: [State]] = [:]
        /// Per server, the account histories of the customers' logins (which accounts are real at each close).
        public var histories: [String: [UInt64: AccountHistory]] = [:]
    }

    /// Reads the inputs of `customers`' snapshots, trading days in the zone `day` (their facts of all history up to
    /// `toDay`, their states from `fromDay` on).
    public static func inputs(
        customers: [String], fromDay: String, toDay: String, day: TradingDayRule, deposits: DailyFeedStore.DepositRule, on connection: isolated PostgresConnection
    ) throws -> Inputs {
        var inputs = Inputs()
        guard !customers.isEmpty else { return inputs }
        // The trading day of an instant, in the feed's day zone ($2) and shift ($3).
        func tradingDay(_ instant: String) -> String { "((\(instant) AT TIME ZONE $2) + make_interval(secs => $3::int))::date" }
        for row in try connection.query(PostgresQuery(sql: """
            SELECT customer_id, server_id, login, currency, account_group FROM accounts WHERE customer_id = ANY($1::text[]) ORDER BY customer_id, server_id, login
            """, parameters: [PostgresArray(customers).postgresText]), name: "snapshot accounts") {
            inputs.accounts.append(Account(
                customerID: try row.decode(String.self, 0), server: try row.decode(String.self, 1), login: UInt64(bitPattern: try row.decode(Int64.self, 2)),
                currency: try row.decode(String?.self, 3), group: try row.decode(String?.self, 4)))
        }
        let closing = "f.kind = 'trade' AND f.entry IN ('out', 'inout', 'out_by') AND NOT f.technical"
        let comments = "NOT (coalesce(f.comment, '') ILIKE ANY($6::text[]))"
        // MT5 open volume per position: `opened` is 0 until the position's first in or inout deal (deals before it
        // close volume opened before the synced history); each inout starts a segment whose volume it sets.
        for row in try connection.query(PostgresQuery(sql: """
            WITH f AS (
                SELECT f.server_id, f.login, f.time_utc, f.ticket, f.kind, f.entry, f.technical, f.lots, f.closed_lots, f.profit, f.comment,
                       f.platform, f.leg, f.position_ticket, (f.platform = 'mt5' AND f.kind = 'trade' AND f.position_ticket IS NOT NULL) AS tracked
                FROM accounts a
                JOIN trading_facts f ON f.server_id = a.server_id AND f.login = a.login AND NOT f.deleted AND f.excluded_reason IS NULL
                WHERE a.customer_id = ANY($1::text[]) AND f.time_utc < (((($4::date) + 1)::timestamp - make_interval(secs => $3::int)) AT TIME ZONE $2)
            ), segments AS (
                SELECT f.*, count(*) FILTER (WHERE entry IN ('in', 'inout')) OVER w AS opened, count(*) FILTER (WHERE entry = 'inout') OVER w AS segment
                FROM f WINDOW w AS (PARTITION BY server_id, tracked, position_ticket ORDER BY time_utc, ticket ROWS UNBOUNDED PRECEDING)
            ), volumes AS (
                SELECT segments.*, greatest(0, sum(CASE WHEN NOT tracked OR opened = 0 THEN 0 WHEN entry = 'in' THEN lots
                                                        WHEN entry = 'inout' THEN lots - coalesce(closed_lots, 0)
                                                        WHEN entry IN ('out', 'out_by') THEN -coalesce(closed_lots, lots) ELSE 0 END)
                                               OVER (PARTITION BY server_id, tracked, position_ticket, segment ORDER BY time_utc, ticket ROWS UNBOUNDED PRECEDING)) AS volume
                FROM segments
            ), facts AS (
                SELECT volumes.*, volume - coalesce(lag(volume) OVER (PARTITION BY server_id, tracked, position_ticket ORDER BY time_utc, ticket), 0) AS open_delta
                FROM volumes
            )
            SELECT f.server_id, f.login, \(tradingDay("f.time_utc"))::text AS day,
                   trim_scale(coalesce(sum(CASE WHEN f.entry = 'inout' THEN f.closed_lots ELSE coalesce(f.closed_lots, f.lots) END) FILTER (WHERE \(closing)), 0))::text,
                   count(*) FILTER (WHERE \(closing) AND f.entry = 'inout' AND f.closed_lots IS NULL),
                   count(*) FILTER (WHERE f.kind = 'trade' AND NOT f.technical),
                   trim_scale(coalesce(sum(CASE
                       WHEN f.tracked THEN f.open_delta
                       WHEN f.kind = 'trade' AND f.platform = 'mt4' THEN CASE f.leg WHEN 1 THEN f.lots WHEN 2 THEN -f.lots ELSE 0 END
                       ELSE 0 END), 0))::text,
                   trim_scale(coalesce(sum(f.profit) FILTER (WHERE f.kind = ANY($5::text[]) AND f.profit > 0 AND \(comments)), 0))::text,
                   trim_scale(coalesce(-sum(f.profit) FILTER (WHERE f.kind = 'balance' AND f.profit < 0 AND \(comments)), 0))::text
            FROM facts f
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            """, parameters: [
                PostgresArray(customers).postgresText, day.zone, String(day.shiftSeconds), toDay,
                PostgresArray(deposits.kinds).postgresText, PostgresArray(deposits.likePatterns).postgresText,
            ]), name: "snapshot figures") {
            let key = "\(try row.decode(String.self, 0)):\(UInt64(bitPattern: try row.decode(Int64.self, 1)))"
            inputs.figures[key, default: []].append(DayFigures(
                day: try row.decode(String.self, 2), closedLots: try row.decode(String.self, 3), unknownReversals: try row.decode(Int.self, 4),
                trades: try row.decode(Int.self, 5), openDelta: try row.decode(String.self, 6), deposits: try row.decode(String.self, 7),
                withdrawals: try row.decode(String.self, 8)))
        }
        // A daily record counts on the trading day in which its server day closes (the instant just before its end);
        // polled money on the trading day it was read. The day's latest of each.
        for row in try connection.query(PostgresQuery(sql: """
            WITH states AS (
                SELECT d.server_id, d.login, \(tradingDay("(d.close_utc - interval '1 millisecond')")) AS day,
                       'daily' AS source, d.close_utc AS at, d.currency, d.balance, d.credit, d.equity
                FROM daily_records d JOIN accounts a ON a.server_id = d.server_id AND a.login = d.login
                WHERE a.customer_id = ANY($1::text[])
                  AND d.close_utc > ((($4::date)::timestamp - make_interval(secs => $3::int)) AT TIME ZONE $2)
                  AND d.close_utc <= (((($5::date) + 1)::timestamp - make_interval(secs => $3::int)) AT TIME ZONE $2)
                UNION ALL
                SELECT m.server_id, m.login, \(tradingDay("m.taken_at")), 'polled', m.taken_at, a.currency, m.balance, m.credit, m.equity
                FROM account_money_days m JOIN accounts a ON a.server_id = m.server_id AND a.login = m.login
                WHERE a.customer_id = ANY($1::text[])
                  AND m.taken_at >= ((($4::date)::timestamp - make_interval(secs => $3::int)) AT TIME ZONE $2)
                  AND m.taken_at < (((($5::date) + 1)::timestamp - make_interval(secs => $3::int)) AT TIME ZONE $2)
            )
            SELECT DISTINCT ON (server_id, login, day, source) server_id, login, day::text, source, currency,
                   balance::text, credit::text, equity::text
            FROM states ORDER BY server_id, login, day, source, at DESC
            """, parameters: [PostgresArray(customers).postgresText, day.zone, String(day.shiftSeconds), fromDay, toDay]), name: "snapshot states") {
            let key = "\(try row.decode(String.self, 0)):\(UInt64(bitPattern: try row.decode(Int64.self, 1)))"
            inputs.states[key, default: []].append(State(
                day: try row.decode(String.self, 2), source: State.Source(rawValue: try row.decode(String.self, 3)) ?? .polled,
                currency: try row.decode(String?.self, 4), balance: try row.decode(String?.self, 5), credit: try row.decode(String?.self, 6),
                equity: try row.decode(String?.self, 7)))
        }
        for (server, accounts) in Dictionary(grouping: inputs.accounts, by: \.server) {
            inputs.histories[server] = try AccountDecisions.histories(server: server, logins: Set(accounts.map(\.login)), on: connection)
        }
        return inputs
    }

    /// The last row queued for each customer day of `customers` from `fromDay` on: its revision and sent hash.
    public static func previousRows(customers: [String], fromDay: String, on connection: isolated PostgresConnection) throws -> [DailyFeedStore.CustomerDay: (revision: Int, hash: String)] {
        var result: [DailyFeedStore.CustomerDay: (revision: Int, hash: String)] = [:]
        for row in try connection.query(PostgresQuery(sql: """
            SELECT customer_id, day::text, revision, row_hash FROM snapshot_rows WHERE customer_id = ANY($1::text[]) AND day >= $2::date
            """, parameters: [PostgresArray(customers).postgresText, fromDay]), name: "read queued snapshots") {
            result[DailyFeedStore.CustomerDay(customerID: try row.decode(String.self, 0), day: try row.decode(String.self, 1))] = (try row.decode(Int.self, 2), try row.decode(String.self, 3))
        }
        return result
    }

    /// Records a pass's decisions in the caller's transaction: the queued rows (and their batches, feed
    /// `snapshots`), the customers settled, and those held with their reason.
    public static func record(
        queued: [DailyFeedStore.QueuedRow], batches: [DailyFeedStore.NewBatch], origin: String, settled: [String], held: [(String, String)],
        on connection: isolated PostgresConnection
    ) throws {
        _ = try DailyFeedStore.insert(batches: batches, feed: "snapshots", origin: origin, on: connection)
        try DailyFeedStore.upsert(queued, into: .snapshotRows, on: connection)
        if !settled.isEmpty {
            try connection.query(PostgresQuery(sql: "DELETE FROM snapshot_customers_dirty WHERE customer_id = ANY($1::text[])", parameters: [
                PostgresArray(settled).postgresText,
            ]), name: "settle snapshot customers")
        }
        if !held.isEmpty {
            try connection.query(PostgresQuery(sql: """
                UPDATE snapshot_customers_dirty d SET held_reason = h.reason FROM unnest($1::text[], $2::text[]) AS h(customer_id, reason)
                WHERE d.customer_id = h.customer_id
                """, parameters: [PostgresArray(held.map(\.0)).postgresText, PostgresArray(held.map(\.1)).postgresText]), name: "hold snapshot customers")
        }
    }

    /// For `mtsync status`: customers waiting, held (with one reason), rows queued so far.
    public struct Status: Sendable, Hashable, Encodable {
        public var customersToCompute: Int
        public var customersHeld: Int
        public var heldReason: String?
        public var rowsQueued: Int

        enum CodingKeys: String, CodingKey {
            case customersToCompute = "customers_to_compute", customersHeld = "customers_held", heldReason = "held_reason", rowsQueued = "rows_queued"
        }
    }

    public static func status(on connection: PostgresConnection) async throws -> Status {
        let row = try await connection.query("""
            SELECT (SELECT count(*) FROM snapshot_customers_dirty WHERE held_reason IS NULL), (SELECT count(*) FROM snapshot_customers_dirty WHERE held_reason IS NOT NULL),
                   (SELECT min(held_reason) FROM snapshot_customers_dirty WHERE held_reason IS NOT NULL), (SELECT count(*) FROM snapshot_rows)
            """, name: "snapshot status")[0]
        return Status(customersToCompute: try row.decode(Int.self, 0), customersHeld: try row.decode(Int.self, 1), heldReason: try row.decode(String?.self, 2), rowsQueued: try row.decode(Int.self, 3))
    }
}
