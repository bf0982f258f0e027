import Logging
import MTSyncBridge
import MTSyncCore
import MTSyncStore

/// The `changes` stream (bridge-protocol §4.6): edits and deletions as the bridge journaled them, and what a round
/// does when the bridge no longer has them all.
extension ServerSync {
    /// Follows the bridge's `changes` stream from the stored sequence: edits merge (revision + 1), deletions
    /// mark facts deleted; the sequence advances in the same transaction as what it covers.
    func followChanges(batcher: RecordBatcher, serverNowMilliseconds serverNow: Int64, into report: inout SyncReport) async throws -> Int {
        let serverID = self.serverID
        var since = try await connection.run { connection in try FactStore.changeSequence(serverID: serverID, on: connection) }
        var total = 0
        while true {
            let started = ContinuousClock.now
            let page: ChangesPage
            do {
                page = try await client.changesPage(since: since, limit: settings.pageSize)
            } catch let error as BridgeClientError where error.protocolError?.code.name == "changes_expired" && since > 0 {
                try await recoverExpiredChanges(since: since, serverNowMilliseconds: serverNow, error: error)
                since = 0
                continue
            }
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

    /// The bridge no longer has every change after `since` (§4.6: its journal restarted, lost its source for a
    /// while, or dropped old entries), so edits and deletions in between may never arrive as changes. Rather than
    /// fail every round until a person steps in, mtsync repairs by digest what such a gap can hide — the recent
    /// window, where edits happen — says so in `status`, and follows the journal again from its start (`since` 0,
    /// which a bridge never expires). Edits older than the window are left to the trailing reconcile.
    private func recoverExpiredChanges(since: Int64, serverNowMilliseconds serverNow: Int64, error: BridgeClientError) async throws {
        let hour: Int64 = 3_600_000
        let window = settings.changesRecoveryWindow.components.seconds * 1000
        let from = max(settings.startMilliseconds, serverNow.saturatingSubtracting(window)) / hour * hour
        let to = serverNow.saturatingAdding(hour) / hour * hour
        let serverID = self.serverID
        let message = "the bridge no longer has the changes after sequence \(since) (changes_expired): edits and deletions in that gap may never arrive as changes; reconciling the last \(settings.changesRecoveryWindow.components.seconds / 3600) h with repair and following the bridge's changes from the start of its journal"
        logger.warning("changes expired at the bridge; repairing the recent window by digest", metadata: [
            "server": "\(serverID)", "since": "\(since)", "from_ms": "\(from)", "to_ms": "\(to)", "error": "\(error)",
        ])
        try await FactStore.recordWarning(serverID: serverID, stream: .changes, message: message, on: connection)
        if from < to {
            let repaired = try await reconcileRound(fromMilliseconds: from, toMilliseconds: to, bucketMilliseconds: hour, repair: true)
            logger.notice("repaired the window the expired changes covered", metadata: [
                "server": "\(serverID)", "buckets": "\(repaired.buckets)", "differing": "\(repaired.differing.count)",
                "inserted": "\(repaired.inserted)", "updated": "\(repaired.updated)", "deleted": "\(repaired.deleted)",
            ])
        }
        try await connection.run { connection in try FactStore.restartChangeSequence(serverID: serverID, on: connection) }
    }
}
