import Foundation
import MTSyncCore

/// What `mtsync status` shows of the daily feed.
extension DailyFeedStore {
    public struct Status: Sendable, Hashable, Encodable {
        /// Distinct (server, login)s whose days wait for a customer id.
        public var heldLogins: Int
        public var heldLoginDays: Int
        /// Login days marked and not yet turned into customer days.
        public var markedLoginDays: Int
        public var customerDaysToCompute: Int
        public var heldCustomerDays: Int
        /// One reason a customer day is held, when any is.
        public var heldReason: String?
        public var batchesPending: Int
        public var oldestPendingSeconds: Double?
        public var batchesParked: Int
        public var batchesSent: Int
        public var rowsSent: Int

        enum CodingKeys: String, CodingKey {
            case heldLogins = "held_logins", heldLoginDays = "held_login_days", markedLoginDays = "marked_login_days"
            case customerDaysToCompute = "customer_days_to_compute", heldCustomerDays = "held_customer_days", heldReason = "held_reason"
            case batchesPending = "batches_pending", oldestPendingSeconds = "oldest_pending_seconds", batchesParked = "batches_parked"
            case batchesSent = "batches_sent", rowsSent = "rows_sent"
        }
    }

    public static func status(on connection: PostgresConnection) async throws -> Status {
        let row = try await connection.query("""
            SELECT (SELECT count(*) FROM (SELECT DISTINCT server_id, login FROM feed_login_days_dirty WHERE held) h),
                   (SELECT count(*) FROM feed_login_days_dirty WHERE held),
                   (SELECT count(*) FROM feed_login_days_dirty WHERE NOT held),
                   (SELECT count(*) FROM feed_customer_days_dirty WHERE held_reason IS NULL),
                   (SELECT count(*) FROM feed_customer_days_dirty WHERE held_reason IS NOT NULL),
                   (SELECT min(held_reason) FROM feed_customer_days_dirty WHERE held_reason IS NOT NULL),
                   (SELECT count(*) FROM feed_batches WHERE sent_at IS NULL AND parked_at IS NULL),
                   (SELECT extract(epoch FROM now() - min(created_at))::float8 FROM feed_batches WHERE sent_at IS NULL AND parked_at IS NULL),
                   (SELECT count(*) FROM feed_batches WHERE parked_at IS NOT NULL),
                   (SELECT count(*) FROM feed_batches WHERE sent_at IS NOT NULL),
                   (SELECT coalesce(sum(rows), 0) FROM feed_batches WHERE sent_at IS NOT NULL)
            """, name: "feed status")[0]
        return Status(
            heldLogins: try row.decode(Int.self, 0), heldLoginDays: try row.decode(Int.self, 1), markedLoginDays: try row.decode(Int.self, 2),
            customerDaysToCompute: try row.decode(Int.self, 3), heldCustomerDays: try row.decode(Int.self, 4), heldReason: try row.decode(String?.self, 5),
            batchesPending: try row.decode(Int.self, 6), oldestPendingSeconds: try row.decode(String?.self, 7).flatMap(Double.init),
            batchesParked: try row.decode(Int.self, 8), batchesSent: try row.decode(Int.self, 9), rowsSent: try row.decode(Int.self, 10))
    }
}
