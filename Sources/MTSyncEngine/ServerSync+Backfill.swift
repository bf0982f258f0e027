import Foundation
import MTSyncCore
import MTSyncStore

/// What `backfill` did: its job, and what the range's chunks stored.
public struct BackfillReport: Sendable, Hashable {
    public var jobID: Int64
    public var chunks: Int
    /// Chunks a run before this one had stored (the job resumes after them).
    public var chunksAlreadyDone: Int
    public var records = 0
    public var inserted = 0
    public var updated = 0
    public var quarantined = 0
    /// Facts stored but not sent (their account's decision excludes them), and records held for their account.
    public var excluded = 0
    public var pending = 0
    /// The range's end-of-day records, when the bridge serves them (the tier snapshots' balances).
    public var dailyRecords: Int?
}

extension ServerSync {
    /// Stores `[from, to)` chunk by chunk under a resumable job, never moving the live cursor: a second run with the
    /// same range resumes at the first chunk not done (a chunk is done when its last page is stored). The accounts come first (when due), so the range's facts are
    /// decided from them rather than held; then the range's end-of-day records, and the decisions held records were
    /// waiting for. A failure is recorded on the job and thrown.
    public func backfill(fromMilliseconds from: Int64, toMilliseconds to: Int64, chunkMilliseconds: Int64, owner: String) async throws -> BackfillReport {
        let job = try await BackfillJob.open(
            serverID: serverID, fromMilliseconds: from, toMilliseconds: to, chunkMilliseconds: chunkMilliseconds, owner: owner, on: connection)
        var report = BackfillReport(jobID: job.jobID, chunks: job.pending.count + job.done, chunksAlreadyDone: job.done)
        do {
            _ = try await refreshReferenceData()
            // The chunks as one stream of pages on one bridge session: the next chunk's first page is read while the
            // last page of the one before is stored, and a chunk is recorded done once its last page is.
            let chunks = job.pending, connection = self.connection
            let pulled = try await client.withSession { client in
                let sync = self.with(client)
                return try await sync.pull(
                    ranges: chunks.map { ($0.fromMilliseconds, $0.toMilliseconds) }, movingCursor: false, backfillJobID: job.jobID,
                    batcher: try await sync.currentBatcher()
                ) { index, records in
                    try await job.finish(chunks[index], records: records, on: connection)
                }
            }
            report.records = pulled.records
            report.inserted = pulled.outcome.inserted
            report.updated = pulled.outcome.updated
            report.quarantined = pulled.outcome.quarantined
            report.excluded = pulled.outcome.excluded
            report.dailyRecords = try await readDaily(fromMilliseconds: from, toMilliseconds: to)?.records
            report.inserted += try await catchUpDecisions().outcome.inserted
            report.pending = try await PendingRecords.summary(server: serverID.rawValue, on: connection).records
            try await job.complete(on: connection)
            return report
        } catch {
            try? await job.complete(error: String(describing: error), on: connection)
            throw error
        }
    }
}
