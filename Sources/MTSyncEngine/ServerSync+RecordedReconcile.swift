import MTSyncCore
import MTSyncStore

extension ServerSync {
    /// The bridge's clock (server time, ms), nil when the bridge does not say. A reading that is not plausible
    /// (`PlausibleTimeRule.serverClock`: Int64.max, before 2000) is replaced by mtsync's own clock in the server's
    /// zone, with a warning.
    public func bridgeServerTime() async throws -> Int64? {
        let reported = try await client.serverInfo()["server_time_ms"]?.text.flatMap { Int64($0) }
        guard let reported else { return nil }
        return serverClock(reported: reported).nowMilliseconds
    }

    /// The range a trailing reconcile covers: the `window` of whole hours before the bridge's current hour (server
    /// time). The current hour is left out: deals are still arriving in it, so it would always differ.
    public func trailingRange(window: Duration) async throws -> (fromMilliseconds: Int64, toMilliseconds: Int64) {
        let hour: Int64 = 3_600_000
        guard let now = try await bridgeServerTime() else {
            throw ReconcileRangeUnknown(serverID: serverID)
        }
        let end = now / hour * hour
        let windowMilliseconds = window.components.seconds * 1000
        return (max(0, end.saturatingSubtracting(windowMilliseconds)) / hour * hour, end)
    }

    /// `reconcile` recorded in the store (`ReconcileRun`): the run shows in `mtsync status`, schedules the daemon's
    /// next trailing reconcile, and does not run when a reconcile of the same range is already running elsewhere
    /// (nil then). The range is widened to whole buckets.
    public func recordedReconcile(
        fromMilliseconds from: Int64, toMilliseconds to: Int64, bucketMilliseconds bucket: Int64 = 3_600_000, repair: Bool, owner: String
    ) async throws -> ReconcileReport? {
        let start = from / bucket * bucket, end = to.saturatingAdding(bucket - 1) / bucket * bucket
        guard let run = try await ReconcileRun.begin(
            serverID: serverID, fromMilliseconds: start, toMilliseconds: end, bucketMilliseconds: bucket, repair: repair, owner: owner, on: connection)
        else { return nil }
        do {
            let report = try await reconcile(fromMilliseconds: start, toMilliseconds: end, bucketMilliseconds: bucket, repair: repair)
            try await run.finish(ReconcileRun.Outcome(
                buckets: report.buckets, differing: report.differing.count, inserted: report.inserted, updated: report.updated, deleted: report.deleted),
                on: connection)
            return report
        } catch {
            try? await run.fail(String(describing: error), on: connection)
            throw error
        }
    }
}

/// The bridge did not report its clock (`server_info.server_time_ms`), so "the last N days" has no anchor.
public struct ReconcileRangeUnknown: Error, CustomStringConvertible {
    public let serverID: ServerID
    public var description: String {
        "the bridge of \(serverID) does not report server_time_ms in server_info: give the reconcile an explicit --from and --to"
    }
}
