import MTSyncBridge
import MTSyncCore
import MTSyncStore

/// Reconcile (bridge-protocol §4.7): the bridge's digests against the store's, bucket by bucket, and the repair of
/// the buckets that differ.
extension ServerSync {
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
        /// With repair, on bridges with `daily`: the end-of-day records of the range's server days read again (a
        /// trade server recomputes the days a late or edited deal touches), and how many of them had changed.
        public var dailyRecordsRead = 0
        public var dailyRecordsChanged = 0
    }

    /// Compares the bridge's digests with the store's, bucket by bucket over `[from, to)` (both multiples of
    /// `bucket`); with `repair`, re-pulls each differing bucket, merges what it finds (missing deals inserted,
    /// changed ones updated) and marks the deals the bridge no longer has as deleted.
    public func reconcile(fromMilliseconds from: Int64, toMilliseconds to: Int64, bucketMilliseconds bucket: Int64 = 3_600_000, repair: Bool) async throws -> ReconcileReport {
        try await client.withSession { client in
            try await self.with(client).reconcileRound(fromMilliseconds: from, toMilliseconds: to, bucketMilliseconds: bucket, repair: repair)
        }
    }

    func reconcileRound(fromMilliseconds from: Int64, toMilliseconds to: Int64, bucketMilliseconds bucket: Int64, repair: Bool) async throws -> ReconcileReport {
        var report = ReconcileReport()
        let serverID = self.serverID, stream = self.stream
        var start = from
        while start < to {
            // At most 744 buckets per digest request (§4.7).
            let end = min(to, start + 744 * bucket), chunkStart = start
            let remote = try await client.digest(stream: stream.rawValue, fromMilliseconds: chunkStart, toMilliseconds: end, bucketMilliseconds: bucket)
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
        // The server days the range touches, whole: their closing balances follow the deals just repaired.
        let day: Int64 = 86_400_000
        if let daily = try await readDaily(fromMilliseconds: from / day * day, toMilliseconds: (to + day - 1) / day * day) {
            report.dailyRecordsRead = daily.records
            report.dailyRecordsChanged = daily.changed
        }
        return report
    }

    private func repairBucket(_ difference: BucketDifference, into report: inout ReconcileReport) async throws {
        let batcher = try await currentBatcher()
        var seen = Set<UInt64>()
        let pulled = switch platform {
        case .mt5:
            try await repairPages(
                client.deals(fromMilliseconds: difference.fromMilliseconds, toMilliseconds: difference.toMilliseconds, pageSize: settings.pageSize), seen: &seen,
                ticket: { $0.deal.flatMap { UInt64($0) } }, batch: { batcher.batch(deals: $0, cursor: nil) })
        case .mt4:
            try await repairPages(
                client.closedTrades(fromMilliseconds: difference.fromMilliseconds, toMilliseconds: difference.toMilliseconds, pageSize: settings.pageSize), seen: &seen,
                ticket: { $0.order.flatMap { UInt64($0) } }, batch: { batcher.batch(trades: $0, cursor: nil) })
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

    /// Stores every page of a bucket's history again (merged like any page: unchanged facts change nothing) and
    /// collects the tickets the bridge still has into `seen`.
    private func repairPages<Record: RawFieldRecord, Position>(
        _ pages: BridgePages<Record, Position>, seen: inout Set<UInt64>, ticket: (Record) -> UInt64?, batch: ([Record]) -> PageBatch
    ) async throws -> SyncReport {
        var total = SyncReport()
        for try await page in pages {
            seen.formUnion(page.records.compactMap(ticket))
            var pageBatch = batch(page.records)
            pageBatch.quarantine += Self.quarantine(of: page, server: serverID, stream: stream)
            try await store(pageBatch, records: page.records.count, into: &total)
            try await reportAnomalies(page.notes.anomalies)
        }
        return total
    }
}
