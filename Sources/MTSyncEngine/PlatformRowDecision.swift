import MTSyncIngest
import MTSyncStore

/// What one pass of a feed decided (the daily rows or the tier snapshots): rows queued with their new revisions and
/// the batches that carry them, customer days settled or held, and unchanged rows whose kept figures are refreshed.
/// Recorded by the caller in the same transaction, so a crash queues a decision whole or not at all.
struct PlatformRowDecision: Sendable {
    var queued: [DailyFeedStore.QueuedRow] = []
    var batches: [DailyFeedStore.NewBatch] = []
    var settled: [DailyFeedStore.CustomerDay] = []
    var held: [(DailyFeedStore.CustomerDay, String)] = []
    /// Rows not sent again whose kept-only figures may have changed.
    var refreshed: [(DailyFeedStore.CustomerDay, String)] = []
    var unchanged = 0
    var files = 0

    /// What a decision does with a row whose sent figures equal the last ones queued.
    enum UnchangedRows {
        /// Not sent; its kept-only figures refreshed (live: an unchanged day is never re-sent).
        case settle
        /// Sent at its current revision, so its batch id is the one already recorded (backfill: not uploaded twice).
        case currentRevision
        /// Sent under revision + 1, hence a new batch id (an operator's resend).
        case newRevision
    }

    /// How rows are cut into batches.
    struct Packing: Sendable {
        var maximumRowsPerMessage: Int
        var maximumMessageBytes: Int
        /// More rows than this in one pass go as file uploads; nil: no file ingest.
        var fileAboveRows: Int?
        var maximumRowsPerFile: Int
    }

    /// Gives each row its revision — the next one when its sent figures changed (or it was never sent), else as
    /// `unchanged` says — and packs the rows to send into batches: files when `files` (a backfill) or when there are
    /// more than `fileAboveRows`, messages otherwise.
    mutating func queue<Row: PlatformRow>(
        _ rows: [Row], previous: [DailyFeedStore.CustomerDay: (revision: Int, hash: String)], unchanged: UnchangedRows, files: Bool,
        envelope: DailyFeedEnvelope, packing: Packing
    ) {
        var entries: [DailyFeedPacker.Entry] = []
        for row in rows {
            let day = DailyFeedStore.CustomerDay(customerID: row.customerID, day: row.date)
            if let before = previous[day], before.hash == row.sentHash {
                self.unchanged += 1
                switch unchanged {
                case .settle: refreshed.append((day, row.figuresJSON))
                case .currentRevision: entries.append(.init(row: row, revision: before.revision))
                case .newRevision: entries.append(.init(row: row, revision: before.revision + 1))
                }
            } else {
                entries.append(.init(row: row, revision: (previous[day]?.revision ?? 0) + 1))
            }
        }
        let asFiles = files || (packing.fileAboveRows.map { entries.count > $0 } ?? false)
        let batches = asFiles
            ? DailyFeedPacker.files(entries, envelope: envelope, maximumRows: packing.maximumRowsPerFile)
            : DailyFeedPacker.messages(entries, envelope: envelope, maximumRows: packing.maximumRowsPerMessage, maximumBytes: packing.maximumMessageBytes)
        for batch in batches {
            self.batches.append(.init(batchID: batch.batchID, transport: batch.transport.rawValue, rows: batch.rows.count, body: batch.body, sha256: batch.sha256))
            if batch.transport == .file { self.files += 1 }
            for entry in batch.rows {
                queued.append(.init(
                    day: .init(customerID: entry.customerID, day: entry.date), revision: entry.revision, hash: entry.sentHash,
                    figuresJSON: entry.figuresJSON, batchID: batch.batchID))
            }
        }
    }
}
