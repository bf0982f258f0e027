import MTSyncEngine

/// One server's line of `sync`, `backfill` and `reconcile` output (text or `--json`).
struct SyncSummary: Encodable {
    var server: String
    var status: String
    var pages = 0
    var records = 0
    var inserted = 0
    var updated = 0
    var deleted = 0
    var quarantined = 0
    var changes = 0
    var cursor: String?
    var error: String?
    /// Who holds the server's lease when another process does: instance, host and pid.
    var heldBy: String?

    init(server: String, status: String, report: SyncReport? = nil, error: String? = nil, heldBy: String? = nil) {
        self.server = server
        self.status = status
        self.error = error
        self.heldBy = heldBy
        if let report {
            pages = report.pages
            records = report.records
            inserted = report.outcome.inserted
            updated = report.outcome.updated
            deleted = report.outcome.deleted
            quarantined = report.outcome.quarantined
            changes = report.changes
            cursor = report.cursor?.description
        }
    }
}
