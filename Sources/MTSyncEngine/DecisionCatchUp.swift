import Foundation
import MTSyncCore
import MTSyncStore

/// Brings a server's decisions up to date with its accounts, after accounts were stored (by the bridge's stream, a
/// drop's accounts file or a pull that found records waiting): first the stored facts that new account versions
/// decide differently (`AccountDecisions.applyNewVersions`), then the held records whose account arrived, each
/// normalized again and stored like a page (sent, or excluded with its reason; still held if the account is
/// still not known). Both are idempotent, so after a crash the next run finishes what was left.
public struct DecisionCatchUp: Sendable {
    public let batcher: RecordBatcher
    public let connection: PostgresConnection
    public let platform: Platform
    /// Held records decided per transaction.
    public var recordsPerPass = 2_000

    public init(batcher: RecordBatcher, connection: PostgresConnection, platform: Platform) {
        self.batcher = batcher
        self.connection = connection
        self.platform = platform
    }

    public struct Report: Sendable, Hashable {
        public var versionsApplied = 0
        /// Stored facts that counted and are now excluded (retracted), and the other way round.
        public var factsExcluded = 0
        public var factsIncluded = 0
        /// Held records decided now, and those still held.
        public var released = 0
        public var stillPending = 0
        /// Held records that normalization now refuses: quarantined, no longer held.
        public var quarantined = 0
        /// What storing the released records did.
        public var outcome = PageOutcome()

        public init() {}
    }

    /// `retryBefore`: held records not tried since then are tried again even without a new account (the rules
    /// file or the filters may have changed); the default tries only those a new account version may decide.
    public func run(retryBefore: Date = .distantPast) async throws -> Report {
        var report = Report()
        let server = batcher.serverID.rawValue
        let applied = try await AccountDecisions.applyNewVersions(server: server, policy: batcher.policy, on: connection)
        report.versionsApplied = applied.versions
        report.factsExcluded = applied.excluded
        report.factsIncluded = applied.included
        while !Task.isCancelled {
            let held = try await PendingRecords.due(server: server, platform: platform, retryBefore: retryBefore, limit: recordsPerPass, on: connection)
            guard !held.isEmpty else { break }
            // Held records are normalized again: within the pull's window, or mtsync's clock's when none was given.
            let windowed = batcher.times == .convertible ? batcher.within(batcher.ownClock()) : batcher
            let batch = windowed.batch(held: held, platform: platform)
            // A held record normalization now refuses is quarantined by the batch; it is no longer held.
            let kept = Set(batch.undecided.map { HeldKey(stream: $0.stream, ticket: $0.ticket) })
            let refused = held.filter { !kept.contains(HeldKey(stream: $0.stream, ticket: $0.ticket)) }
            let fence = ServerLease.fence
            let outcome = try await connection.transaction(name: "decide held records") { connection in
                try ServerLease.assertFenced(fence, on: connection)
                let outcome = try FactStore.store(batch, on: connection)
                try PendingRecords.forget(server: server, records: refused.map { ($0.stream, $0.ticket) }, on: connection)
                return outcome
            }
            report.released += outcome.released
            report.stillPending += outcome.pending
            report.quarantined += refused.count
            report.outcome = report.outcome + outcome
            if held.count < recordsPerPass { break }
        }
        return report
    }

    private struct HeldKey: Hashable {
        var stream: SyncStream
        var ticket: UInt64
    }
}
