import Logging
import MTSyncBridge
import MTSyncBridgeTransport
import MTSyncCore
import MTSyncStore

/// How one trade server is synced from its bridge.
public struct ServerSyncSettings: Sendable {
    /// Server time (ms) where the history starts mattering: the first incremental pull starts here.
    public var startMilliseconds: Int64
    /// Re-read before the cursor on every incremental pull, so deals posted late with an older time are caught.
    public var lookback: Duration
    public var pageSize: Int

    public init(startMilliseconds: Int64, lookback: Duration = .seconds(7_200), pageSize: Int = 5_000) {
        self.startMilliseconds = startMilliseconds
        self.lookback = lookback
        self.pageSize = pageSize
    }

    var lookbackMilliseconds: Int64 { lookback.components.seconds * 1000 + lookback.components.attoseconds / 1_000_000_000_000_000 }
}

/// What a pull did.
public struct SyncReport: Sendable, Hashable {
    public var pages = 0
    public var records = 0
    public var changes = 0
    public var outcome = PageOutcome()
    /// Where the live cursor stood after the pull.
    public var cursor: CursorPosition?

    public init() {}
}

/// Syncs one trade server: incremental pulls that move the live cursor, bounded backfills that do not, and the
/// reconcile of digests with repair. Every page is one store transaction (`FactStore.store`): its facts,
/// outbox events, source records, quarantine entries and cursor commit together or not at all, so a crash at
/// any instant loses at most the page in flight, which the next pull reads again.
public struct ServerSync: Sendable {
    public let client: BridgeClient
    public let connection: PostgresConnection
    public let batcher: RecordBatcher
    public let settings: ServerSyncSettings
    /// One `page stored` line per page (at info), with its counts and how long reading and storing took.
    public let logger: Logger

    public init(
        client: BridgeClient, connection: PostgresConnection, batcher: RecordBatcher, settings: ServerSyncSettings,
        logger: Logger = Logger(label: "mtsync.sync")
    ) {
        self.client = client
        self.connection = connection
        self.batcher = batcher
        self.settings = settings
        var logger = logger
        logger[metadataKey: "server"] = "\(batcher.serverID)"
        self.logger = logger
    }

    public var serverID: ServerID { batcher.serverID }
    public var platform: Platform { batcher.normalizer.settings.platform }
    var stream: SyncStream { platform == .mt5 ? .deals : .trades }

    /// Registers the server's row (facts, cursors and leases reference it).
    public func register() async throws {
        try await FactStore.register(serverID: serverID, platform: platform, zone: batcher.normalizer.settings.zone.name, on: connection)
    }

    // MARK: - Incremental

    /// One incremental pull: everything from `cursor - lookback` up to the bridge's clock, page by page, then
    /// the `changes` stream when the bridge offers it.
    public func pull() async throws -> SyncReport {
        let (serverNow, capabilities) = try await client.withRetries { connection in
            let info = try await connection.serverInfo()
            return (info["server_time_ms"]?.text.flatMap { Int64($0) }, connection.welcome?.capabilities ?? [])
        }
        let serverID = self.serverID, stream = self.stream
        let cursor = try await connection.run { connection in try FactStore.cursor(serverID: serverID, stream: stream, on: connection) }
        let from = max(settings.startMilliseconds, cursor.serverTimeMilliseconds - settings.lookbackMilliseconds)
        // A minute past the bridge's clock: a deal stamped a little ahead of it is not left for the next poll.
        let to = max(from + 1, (serverNow ?? Int64(4_102_444_800_000)) + 60_000)
        var report = try await pull(fromMilliseconds: from, toMilliseconds: to, movingCursor: true)
        if capabilities.contains("changes") {
            report.changes = try await followChanges(into: &report)
        }
        report.cursor = try await connection.run { connection in try FactStore.cursor(serverID: serverID, stream: stream, on: connection) }
        return report
    }

    /// Pulls `[from, to)` page by page. With `movingCursor`, each page advances the live cursor in its
    /// transaction; without (backfill, repair), the cursor is left alone.
    /// `backfillJobID` tags the events of the facts stored with that backfill job (their messages are flagged
    /// `"backfill": true`).
    public func pull(fromMilliseconds from: Int64, toMilliseconds to: Int64, movingCursor: Bool, backfillJobID: Int64? = nil) async throws -> SyncReport {
        var report = SyncReport()
        let batcher = self.batcher
        switch platform {
        case .mt5:
            try await storeInOrder(client.deals(fromMilliseconds: from, toMilliseconds: to, pageSize: settings.pageSize), into: &report) { page in
                let position = page.records.isEmpty || !movingCursor ? nil : CursorPosition(serverTimeMilliseconds: page.position.timeMsc, ticket: page.position.deal)
                var batch = batcher.batch(deals: page.records, cursor: position)
                batch.backfillJobID = backfillJobID
                return batch
            }
        case .mt4:
            try await storeInOrder(client.closedTrades(fromMilliseconds: from, toMilliseconds: to, pageSize: settings.pageSize), into: &report) { page in
                let position = page.records.isEmpty || !movingCursor
                    ? nil : CursorPosition(serverTimeMilliseconds: (page.position.closeTime ?? 0) * 1000, ticket: page.position.order)
                var batch = batcher.batch(trades: page.records, cursor: position)
                batch.backfillJobID = backfillJobID
                return batch
            }
        }
        return report
    }

    /// Stores the pages one transaction each, in order, while the next page is read from the bridge and
    /// normalized: the database, the slower side, never waits for the bridge or for normalization. At most two
    /// pages are in memory (the one being stored and the next); a failure or a cancellation while storing
    /// abandons the page being read, which the next pull reads again like any page not stored.
    private func storeInOrder<Record: Sendable, Position: Sendable & Hashable>(
        _ pages: BridgePages<Record, Position>, into report: inout SyncReport,
        prepare: @escaping @Sendable (BridgePage<Record, Position>) -> PageBatch
    ) async throws {
        typealias Iterator = BridgePages<Record, Position>.Iterator
        typealias ReadPage = (batch: PageBatch, records: Int, read: Duration)
        @Sendable func advance(_ iterator: Iterator) async throws -> (page: ReadPage?, iterator: Iterator) {
            var iterator = iterator
            let started = ContinuousClock.now
            guard let page = try await iterator.next() else { return (nil, iterator) }
            let batch = prepare(page)
            return ((batch, page.records.count, ContinuousClock.now - started), iterator)
        }
        var (next, iterator) = try await advance(pages.makeAsyncIterator())
        while let current = next {
            let reading = iterator
            async let following = advance(reading)
            try await store(current.batch, records: current.records, read: current.read, into: &report)
            (next, iterator) = try await following
        }
    }

    private func store(_ batch: PageBatch, records: Int, read: Duration? = nil, into report: inout SyncReport) async throws {
        let fence = ServerLease.fence
        let started = ContinuousClock.now
        let outcome = try await connection.transaction(name: "store page") { connection in
            try ServerLease.assertFenced(fence, on: connection)
            return try FactStore.store(batch, on: connection)
        }
        let stored = ContinuousClock.now - started
        report.pages += 1
        report.records += records
        report.outcome = report.outcome + outcome
        Self.count(outcome, server: serverID.rawValue, stream: stream.rawValue, read: read, stored: stored)
        logger.info("page stored", metadata: [
            "stream": "\(stream.rawValue)", "records": "\(records)", "inserted": "\(outcome.inserted)", "updated": "\(outcome.updated)",
            "unchanged": "\(outcome.unchanged)", "deleted": "\(outcome.deleted)", "quarantined": "\(outcome.quarantined)",
            "read_ms": "\(read.map { "\($0.milliseconds)" } ?? "-")", "store_ms": "\(stored.milliseconds)",
            "cursor": "\(batch.cursor.map(\.description) ?? "-")",
        ])
    }

    /// A stored page in the metrics: its facts by change, its quarantined records and its two durations.
    static func count(_ outcome: PageOutcome, server: String, stream: String, read: Duration?, stored: Duration) {
        SyncMetric.factsSynced.increment(by: outcome.inserted, server, stream, "inserted")
        SyncMetric.factsSynced.increment(by: outcome.updated, server, stream, "updated")
        SyncMetric.factsSynced.increment(by: outcome.deleted, server, stream, "deleted")
        SyncMetric.recordsQuarantined.increment(by: outcome.quarantined, server, stream)
        if let read { SyncMetric.pageDuration.record(read, server, stream, "read") }
        SyncMetric.pageDuration.record(stored, server, stream, "store")
    }

    /// Follows the bridge's `changes` stream from the stored sequence: edits merge (revision + 1), deletions
    /// mark facts deleted; the sequence advances in the same transaction as what it covers.
    private func followChanges(into report: inout SyncReport) async throws -> Int {
        let serverID = self.serverID
        var since = try await connection.run { connection in try FactStore.changeSequence(serverID: serverID, on: connection) }
        var total = 0
        while true {
            let started = ContinuousClock.now
            let page = try await client.withRetries { connection in try await connection.changesPage(since: since, limit: settings.pageSize) }
            let read = ContinuousClock.now - started
            guard !page.changes.isEmpty else { break }
            let batch = batcher.batch(changes: page.changes, platform: platform)
            try await store(batch, records: page.changes.count, read: read, into: &report)
            total += page.changes.count
            since = batch.changeSequence ?? since
            if !page.more { break }
        }
        return total
    }

    // MARK: - Reconcile

    /// One bucket where the bridge and the store disagree.
    public struct BucketDifference: Sendable, Hashable, Codable {
        public var fromMilliseconds: Int64
        public var toMilliseconds: Int64
        public var bridgeCount: Int
        public var storeCount: Int
        public var bridgeChecksum: String
        public var storeChecksum: String
    }

    public struct ReconcileReport: Sendable, Hashable, Codable {
        public var buckets = 0
        public var differing: [BucketDifference] = []
        /// With repair: what re-pulling the differing buckets stored, and how many facts it marked deleted.
        public var repairedRecords = 0
        public var inserted = 0
        public var updated = 0
        public var deleted = 0
    }

    /// Compares the bridge's digests with the store's, bucket by bucket over `[from, to)` (both multiples of
    /// `bucket`); with `repair`, re-pulls each differing bucket, merges what it finds (missing deals inserted,
    /// changed ones updated) and marks the deals the bridge no longer has as deleted.
    public func reconcile(fromMilliseconds from: Int64, toMilliseconds to: Int64, bucketMilliseconds bucket: Int64 = 3_600_000, repair: Bool) async throws -> ReconcileReport {
        var report = ReconcileReport()
        let serverID = self.serverID, stream = self.stream
        var start = from
        while start < to {
            // At most 744 buckets per digest request (§4.7).
            let end = min(to, start + 744 * bucket), chunkStart = start
            let remote = try await client.withRetries { connection in
                try await connection.digest(stream: stream.rawValue, fromMilliseconds: chunkStart, toMilliseconds: end, bucketMilliseconds: bucket)
            }
            let local = try await connection.run { connection in
                try FactStore.digest(serverID: serverID, stream: stream, fromMilliseconds: chunkStart, toMilliseconds: end, bucketMilliseconds: bucket, on: connection)
            }
            for remoteBucket in remote {
                report.buckets += 1
                let mine = local[remoteBucket.fromMilliseconds] ?? DigestSum()
                guard remoteBucket.count != mine.count || remoteBucket.checksum != mine.description else { continue }
                report.differing.append(BucketDifference(
                    fromMilliseconds: remoteBucket.fromMilliseconds, toMilliseconds: remoteBucket.toMilliseconds, bridgeCount: remoteBucket.count,
                    storeCount: mine.count, bridgeChecksum: remoteBucket.checksum, storeChecksum: mine.description))
            }
            start = end
        }
        guard repair else { return report }
        for difference in report.differing {
            try await repairBucket(difference, into: &report)
        }
        return report
    }

    private func repairBucket(_ difference: BucketDifference, into report: inout ReconcileReport) async throws {
        var seen = Set<UInt64>()
        let pulled: SyncReport
        switch platform {
        case .mt5:
            var total = SyncReport()
            for try await page in client.deals(fromMilliseconds: difference.fromMilliseconds, toMilliseconds: difference.toMilliseconds, pageSize: settings.pageSize) {
                for deal in page.records { if let ticket = deal.deal.flatMap({ UInt64($0) }) { seen.insert(ticket) } }
                try await store(batcher.batch(deals: page.records, cursor: nil), records: page.records.count, into: &total)
            }
            pulled = total
        case .mt4:
            var total = SyncReport()
            for try await page in client.closedTrades(fromMilliseconds: difference.fromMilliseconds, toMilliseconds: difference.toMilliseconds, pageSize: settings.pageSize) {
                for trade in page.records { if let order = trade.order.flatMap({ UInt64($0) }) { seen.insert(order) } }
                try await store(batcher.batch(trades: page.records, cursor: nil), records: page.records.count, into: &total)
            }
            pulled = total
        }
        let serverID = self.serverID, stream = self.stream
        let stored = try await connection.run { connection in
            try FactStore.sourceTickets(serverID: serverID, stream: stream, fromMilliseconds: difference.fromMilliseconds, toMilliseconds: difference.toMilliseconds, on: connection)
        }
        let gone = stored.subtracting(seen).sorted()
        if !gone.isEmpty {
            let outcome = try await connection.transaction(name: "mark deals the bridge no longer has") { connection in
                try FactStore.store(PageBatch(serverID: serverID, stream: stream, deletedTickets: gone), on: connection)
            }
            report.deleted += outcome.deleted
            SyncMetric.factsSynced.increment(by: outcome.deleted, serverID.rawValue, stream.rawValue, "deleted")
        }
        report.repairedRecords += pulled.records
        report.inserted += pulled.outcome.inserted
        report.updated += pulled.outcome.updated
    }
}
