import Foundation
import MTSyncCore

/// The monthly partitions of `trading_facts` (migration 0012, issue 20 finding 5): made ahead of time by upkeep, in
/// short transactions of their own, for a bounded horizon; never by a page.
///
/// A page only reads where they end (`window`) and stores no fact at or after that month: one far-future row used to
/// make its page create every month up to it under an ACCESS EXCLUSIVE lock on the whole fact table. So the role the
/// daemon stores with needs no CREATE (docs/security.md, "Least privilege"), only upkeep does: `mtsync migrate`, and
/// the daemon's `PartitionUpkeepService` when its role may.
public enum FactPartitions {
    /// Months upkeep makes after the current one: over a year, so a daemon whose role may not create tables stores
    /// a year of new months before anyone must run `mtsync migrate` again.
    public static let defaultMonthsAhead = 15
    /// 2000-01-01 UTC: no fact is stored before it (the normalizer's default plausibility window starts there too).
    /// A past month without its partition goes to the default partition until upkeep gives it one, so without
    /// this floor a hostile bridge could make upkeep create hundreds of past months.
    public static let earliestMilliseconds: Int64 = 946_684_800_000
    /// A fact this far past the database's clock may be real (a server clock ahead, a zone set wrong): when the
    /// partitions end before it, the horizon has run out and the page fails until upkeep runs, rather than
    /// quarantining live deals. Later than this, a fact outside the partitions is quarantined.
    static let plausibleAheadMilliseconds: Int64 = 86_400_000
    /// The reason code of a fact quarantined for its time.
    public static let quarantineCode = "outside_partitions"

    /// Where a page may store facts, read once per page: `[earliestMilliseconds, endMilliseconds)`.
    public struct Window: Sendable, Hashable {
        /// The start (UTC ms) of the first month from the current one on that has no partition.
        public var endMilliseconds: Int64
        /// The database's clock (transaction start), UTC ms.
        public var nowMilliseconds: Int64

        public init(endMilliseconds: Int64, nowMilliseconds: Int64) {
            self.endMilliseconds = endMilliseconds
            self.nowMilliseconds = nowMilliseconds
        }

        public enum Placement: Sendable, Hashable {
            /// In a month with its partition, or a past month whose rows wait in the default partition for upkeep.
            case inside
            /// Not stored: quarantined with `reason`.
            case outside(reason: String)
        }

        /// - Throws: `PostgresError` (`noPartition`) for a plausible time past the partitions: the horizon ran out.
        public func place(utcMilliseconds time: Int64) throws(PostgresError) -> Placement {
            if time >= FactPartitions.earliestMilliseconds, time < endMilliseconds { return .inside }
            let shown = ServerTimeText.iso8601(milliseconds: time) + "Z"
            let end = String(ServerTimeText.iso8601(milliseconds: endMilliseconds).prefix(7))
            if time < FactPartitions.earliestMilliseconds {
                return .outside(reason: "time \(shown) is before 2000-01-01, the earliest month the fact table keeps")
            }
            let (plausibleEnd, overflow) = nowMilliseconds.addingReportingOverflow(FactPartitions.plausibleAheadMilliseconds)
            if overflow || time <= plausibleEnd {
                throw PostgresError(
                    code: .noPartition,
                    message: "the fact table's monthly partitions end before \(end), and a fact of \(shown) needs that month",
                    hint: "run `mtsync migrate` as the database owner: it makes the next \(FactPartitions.defaultMonthsAhead) months (a daemon whose role may create tables does it by itself); the page is stored once they exist")
            }
            return .outside(reason: "time \(shown) is past the fact table's partitions (they end before \(end)); if it is real, run `mtsync migrate --partitions-ahead N` as the database owner, then backfill its range")
        }
    }

    /// The window for a page, from the catalog: one function call of a few catalog lookups.
    public static func window(on connection: isolated PostgresConnection) throws(PostgresError) -> Window {
        let rows = try connection.query("""
            SELECT (extract(epoch FROM trading_fact_partitions_end()::timestamp AT TIME ZONE 'UTC') * 1000)::bigint,
                   (extract(epoch FROM now()) * 1000)::bigint
            """, name: "read the partition horizon")
        return Window(endMilliseconds: try rows[0].decode(Int64.self, 0), nowMilliseconds: try rows[0].decode(Int64.self, 1))
    }

    // MARK: - Horizon, for status

    /// What the partitions cover, for `mtsync status`.
    public struct Horizon: Sendable, Codable, Equatable {
        /// The earliest month with a partition (`2025-01`), nil when there is none.
        public let firstMonth: String?
        /// The first month from the current one on without a partition: facts of it and later are not stored.
        public let endMonth: String
        /// Whole months after the current one that have their partitions (-1 when the current month has none).
        public let monthsAhead: Int
        public let partitions: Int

        public init(firstMonth: String?, endMonth: String, monthsAhead: Int, partitions: Int) {
            self.firstMonth = firstMonth
            self.endMonth = endMonth
            self.monthsAhead = monthsAhead
            self.partitions = partitions
        }

        /// Fewer months than this left ahead, and `status` warns.
        public static let warnBelowMonthsAhead = 2

        public var warning: String? {
            guard monthsAhead < Self.warnBelowMonthsAhead else { return nil }
            let left = monthsAhead < 0 ? "the current month has none" : "\(monthsAhead) month(s) after this one"
            return "the fact table's partitions end before \(endMonth) (\(left)): run `mtsync migrate` as the database owner to make the next \(FactPartitions.defaultMonthsAhead) months; facts of \(endMonth) stop the sync until then"
        }
    }

    public static func horizon(on connection: PostgresConnection) async throws(PostgresError) -> Horizon {
        let rows = try await connection.query("""
            WITH h AS (SELECT trading_fact_partitions_end() AS e, date_trunc('month', now() AT TIME ZONE 'UTC')::date AS c),
            p AS (
                SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'trading_facts'::regclass AND c.relname ~ '^trading_facts_[0-9]{4}_[0-9]{2}$'
            )
            SELECT to_char(e, 'YYYY-MM'),
                   ((extract(year FROM e) * 12 + extract(month FROM e)) - (extract(year FROM c) * 12 + extract(month FROM c)))::int - 1,
                   (SELECT replace(substr(min(relname), 15), '_', '-') FROM p), (SELECT count(*) FROM p)::int
            FROM h
            """, name: "read the partition horizon")
        return Horizon(
            firstMonth: try rows[0].decode(String?.self, 2), endMonth: try rows[0].decode(String.self, 0),
            monthsAhead: try rows[0].decode(Int.self, 1), partitions: try rows[0].decode(Int.self, 3))
    }

    // MARK: - Upkeep

    /// What one upkeep did.
    public struct UpkeepReport: Sendable, Codable, Equatable {
        /// Months given their partition (`2027-03`), in order.
        public var created: [String] = []
        /// Rows moved into them from the default partition.
        public var movedRows: Int64 = 0
        public var horizon: Horizon?

        public init() {}
    }

    /// Makes the partitions of the current month and the `monthsAhead` after it, of every month from `from` (UTC ms)
    /// to now, and of every past month whose rows sit in the default partition (moving them in); each month in a
    /// transaction of its own, so a page waits at most for one month's work.
    ///
    /// Safe with several instances at once: each month is made under a lock on the default partition that conflicts
    /// with itself (the second instance waits, then finds the month made; migration 0012 says why not an advisory
    /// lock). `lockTimeout` bounds every lock wait, so upkeep gives up (SQLSTATE
    /// 55P03, retry later) rather than queue page stores behind it.
    ///
    /// - Throws: `PostgresError`; SQLSTATE 42501 (`isInsufficientPrivilege`) when the role may not create tables,
    ///   55P03 when a lock was not had within `lockTimeout`.
    @discardableResult
    public static func upkeep(
        monthsAhead: Int = defaultMonthsAhead, from: Int64? = nil, lockTimeout: Duration = .seconds(5), on connection: PostgresConnection
    ) async throws -> UpkeepReport {
        let ahead = max(0, min(monthsAhead, 1200))
        let earliest = max(from ?? Int64.max, earliestMilliseconds)
        let fromText: String? = from == nil ? nil : ServerTimeText.iso8601(milliseconds: earliest) + "Z"
        let months = try await connection.query("""
            WITH c AS (SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date AS c)
            SELECT to_char(m, 'YYYY-MM-DD') FROM (
                SELECT (c + n * interval '1 month')::date FROM c, generate_series(0, \(ahead)::int) AS n
                UNION
                SELECT g::date FROM c, generate_series(date_trunc('month', \(fromText)::timestamptz AT TIME ZONE 'UTC'), c, interval '1 month') AS g
                 WHERE \(fromText)::timestamptz IS NOT NULL
                UNION
                SELECT DISTINCT date_trunc('month', time_utc AT TIME ZONE 'UTC')::date FROM trading_facts_default, c
                 WHERE time_utc >= '2000-01-01T00:00:00Z' AND time_utc < (c + (\(ahead)::int + 1) * interval '1 month')::timestamp AT TIME ZONE 'UTC'
            ) AS months (m)
            WHERE to_regclass(format('trading_facts_%s', to_char(m, 'YYYY_MM'))) IS NULL
            ORDER BY m
            """, name: "plan partition upkeep")
        var report = UpkeepReport()
        let milliseconds = max(1, lockTimeout.wholeMilliseconds)
        for row in months {
            let month = try row.decode(String.self, 0)
            let moved = try await connection.transaction(name: "make the fact partition of \(month.prefix(7))") { connection throws(PostgresError) in
                try connection.query("SELECT set_config('lock_timeout', \(String(milliseconds)), true)", name: "bound upkeep's lock waits")
                return try connection.query("SELECT create_trading_fact_partition(\(month)::date)", name: "make the fact partition of \(month.prefix(7))")[0].decode(Int64.self, 0)
            }
            if moved >= 0 {
                report.created.append(String(month.prefix(7)))
                report.movedRows += moved
            }
        }
        report.horizon = try await horizon(on: connection)
        return report
    }
}

extension PostgresError {
    /// The role lacks a privilege (SQLSTATE 42501): for upkeep, it may not create tables.
    public var isInsufficientPrivilege: Bool { sqlState == "42501" }
}
