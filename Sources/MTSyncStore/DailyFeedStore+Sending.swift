import Foundation
import MTSyncCore

/// The daily feed's batches on their way to the platform: claimed strictly in queue order, sent, failed, parked.
extension DailyFeedStore {
    /// A batch claimed for sending.
    public struct ClaimedBatch: Sendable {
        public var batchID: String
        /// `daily` or `snapshots`: which of the platform's feeds (and trigger ids) the batch belongs to.
        public var feed: String
        public var transport: String
        public var rows: Int
        public var body: [UInt8]
        public var attempts: Int
    }

    /// Claims the oldest unsent batch for `claimFor`, if it is due and nobody holds it. Batches go strictly in the
    /// order they were queued: a later revision of a row must never overtake an earlier one, or the platform's
    /// upsert would end on the older total. So when the oldest batch waits (backoff, or another instance sending
    /// it), nothing is claimed; a second instance waits on the row lock rather than skipping to a later batch.
    public static func claimNext(claimFor: Duration, on connection: PostgresConnection) async throws -> ClaimedBatch? {
        let rows = try await connection.query("""
            WITH head AS (
                SELECT batch_id, available_at FROM feed_batches WHERE sent_at IS NULL AND parked_at IS NULL
                ORDER BY seq LIMIT 1 FOR UPDATE
            )
            UPDATE feed_batches b SET available_at = now() + make_interval(secs => \(String(claimFor.fractionalSeconds))::double precision),
                   attempts = b.attempts + 1
            FROM head WHERE b.batch_id = head.batch_id AND head.available_at <= now()
            RETURNING b.batch_id, b.transport, b.rows, b.body, b.attempts, b.feed
            """, name: "claim a feed batch")
        guard let row = rows.first else { return nil }
        return ClaimedBatch(
            batchID: try row.decode(String.self, 0), feed: try row.decode(String.self, 5), transport: try row.decode(String.self, 1),
            rows: try row.decode(Int.self, 2), body: Array(try row.decode(Data.self, 3)), attempts: try row.decode(Int.self, 4))
    }

    public static func markSent(_ batchID: String, response: String, on connection: PostgresConnection) async throws {
        try await connection.query("""
            UPDATE feed_batches SET sent_at = now(), response = \(String(response.prefix(4_096))), last_error = NULL WHERE batch_id = \(batchID)
            """, name: "mark a feed batch sent")
    }

    public static func markFailed(_ batchID: String, error: String, retryIn: Duration, on connection: PostgresConnection) async throws {
        try await connection.query("""
            UPDATE feed_batches SET last_error = \(String(error.prefix(2_000))),
                   available_at = now() + make_interval(secs => \(String(retryIn.fractionalSeconds))::double precision)
            WHERE batch_id = \(batchID) AND sent_at IS NULL
            """, name: "mark a feed batch failed")
    }

    public static func park(_ batchID: String, reason: String, response: String?, on connection: PostgresConnection) async throws {
        try await connection.query("""
            UPDATE feed_batches SET parked_at = now(), last_error = \(String(reason.prefix(2_000))), response = \(response.map { String($0.prefix(4_096)) })
            WHERE batch_id = \(batchID) AND sent_at IS NULL
            """, name: "park a feed batch")
    }

    /// Parked batches go back to the queue, at the end (their rows may have newer revisions queued since: those
    /// were queued later and are sent after them anyway, as the order requires).
    public static func retryParked(on connection: PostgresConnection) async throws -> Int {
        try await connection.query("""
            UPDATE feed_batches SET parked_at = NULL, available_at = now(), attempts = 0, seq = DEFAULT WHERE parked_at IS NOT NULL RETURNING 1
            """, name: "retry parked feed batches").count
    }
}
