import Foundation
import Logging
import MTSyncStore
import ServiceLifecycle

/// Re-reads, every `every`, the figures that live in the database rather than in this process — cursor lag,
/// quarantine, records waiting for their account, outbox backlog and dead letters, the daily feed's holds and queue — into gauges. They are the same
/// figures `mtsync status` shows, so every instance reports the shared database's view; a scrape never waits on a
/// query. A failed read leaves the gauges as they were and counts `mtsync_store_refresh_failures_total`;
/// `mtsync_store_refreshed_timestamp_seconds` says how fresh they are.
public struct StoreGaugeService: Service {
    public let connection: PostgresConnection
    public let every: Duration
    public let logger: Logger

    public init(connection: PostgresConnection, every: Duration, logger: Logger) {
        self.connection = connection
        self.every = every
        self.logger = logger
    }

    public func run() async throws {
        await PeriodicRounds.run(every: every) { error in
            SyncMetric.storeRefreshFailures.increment()
            logger.warning("reading the gauges from the database failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(every)"])
        } _: {
            try await refresh()
        }
    }

    /// One read of every database gauge.
    public func refresh() async throws {
        for server in try await ServerStatus.read(on: connection) {
            for stream in server.streams {
                // Streams without a time position (changes, accounts) have no lag to report.
                if let lag = stream.lagSeconds { SyncMetric.cursorLag.set(Double(max(lag, 0)), server.serverID, stream.stream) }
            }
            SyncMetric.quarantineOpen.set(Double(server.openQuarantine), server.serverID)
            SyncMetric.pendingRecords.set(Double(server.pending.records), server.serverID)
            SyncMetric.pendingOldestAge.set(server.pending.oldestSeconds ?? 0, server.serverID)
            SyncMetric.outboxPending.set(Double(server.outbox.pending), server.serverID)
            SyncMetric.outboxOldestAge.set(Double(server.outbox.oldestPendingAgeSeconds), server.serverID)
            SyncMetric.outboxParked.set(Double(server.outbox.parked), server.serverID)
        }
        let feed = try await DailyFeedStore.status(on: connection)
        SyncMetric.feedHeldLogins.set(Double(feed.heldLogins))
        SyncMetric.feedHeldCustomerDays.set(Double(feed.heldCustomerDays))
        SyncMetric.feedPendingBatches.set(Double(feed.batchesPending))
        SyncMetric.storeRefreshed.set(Date().timeIntervalSince1970)
    }
}
