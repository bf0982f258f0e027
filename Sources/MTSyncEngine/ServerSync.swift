import Foundation
import Logging
import MTSyncBridge
import MTSyncCore
import MTSyncStore

/// Syncs one trade server: incremental pulls that move the live cursor, bounded backfills that do not, and the
/// reconcile of digests with repair. Every page is one store transaction (`FactStore.store`): its facts,
/// outbox events, source records, quarantine entries and cursor commit together or not at all, so a crash at
/// any instant loses at most the page in flight, which the next pull reads again.
public struct ServerSync: Sendable {
    /// The bridge; inside a round (`pull`, a bounded pull, a reconcile) one whose requests share one session.
    public private(set) var client: any BridgeSource
    public let connection: PostgresConnection
    public let batcher: RecordBatcher
    public let settings: ServerSyncSettings
    /// One `page stored` line per page (at info), with its counts and how long reading and storing took.
    public let logger: Logger

    /// The server's symbol definitions as last loaded from the store (the batcher's contract sizes).
    let symbols = ServerSymbolCache()
    /// The bridge's zone warnings last said (`checkZoneRule`).
    let zoneWarnings = ZoneWarningMemory()
    /// Where the rolling re-read of the lookback window stands (`ServerSyncSettings.lookbackEvery`).
    let reachBack = ReachBackSchedule()
    /// What the last page transactions read: the next page is planned from it while one is stored.
    let storeReadings = StoreReadingsMemory()

    public init(
        client: any BridgeSource, connection: PostgresConnection, batcher: RecordBatcher, settings: ServerSyncSettings,
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

    /// The server's account reader, on this sync's client and connection.
    public var accountSync: AccountSync { AccountSync(client: client, connection: connection, batcher: batcher) }

    public var serverID: ServerID { batcher.serverID }
    public var platform: Platform { batcher.normalizer.settings.platform }
    var stream: SyncStream { platform == .mt5 ? .deals : .trades }

    /// Registers the server's row (facts, cursors and leases reference it).
    public func register() async throws {
        try await FactStore.register(serverID: serverID, platform: platform, zone: batcher.normalizer.settings.zone.name, on: connection)
    }

    // MARK: - Incremental

    /// One incremental pull: the accounts and symbols when due (before the deals they decide), everything from
    /// a minute before the cursor (and a slice of the older lookback window: all of it every `lookback_every`) up to the
    /// bridge's clock page by page, an MT4 server's open trades, the `changes` stream
    /// when the bridge offers it, and last the held records whose account arrived.
    public func pull() async throws -> SyncReport {
        try await client.withSession { client in try await self.with(client).pullRound() }
    }

    /// This sync on `client` (a session's).
    func with(_ client: any BridgeSource) -> ServerSync {
        var sync = self
        sync.client = client
        return sync
    }

    private func pullRound() async throws -> SyncReport {
        let info = try await client.serverInfo()
        let capabilities = try await client.capabilities()
        // The bridge's clock only when it is plausible itself (issue 20: Int64.max crashed the daemon here).
        let clock = serverClock(reported: info["server_time_ms"]?.text.flatMap { Int64($0) })
        if let distrusted = clock.distrusted {
            try await reportAnomalies([BridgeAnomaly(
                code: "implausible_clock", message: "server.info's server_time_ms \(distrusted) is not a plausible server clock: mtsync's own clock in the server's zone is used")])
        }
        try await checkZoneRule(info: info, clock: clock)
        let serverNow = clock.nowMilliseconds
        let serverID = self.serverID, stream = self.stream
        var report = SyncReport()
        report.accounts = try await refreshReferenceData(capabilities: capabilities, serverNowMilliseconds: serverNow)
        let batcher = try await currentBatcher().within(clock)
        let cursor = try await connection.run { connection in try FactStore.cursor(serverID: serverID, stream: stream, on: connection) }
        let started = ContinuousClock.now
        // New deals first: from a minute before the cursor. Then this pull's slice of the older lookback window, or
        // all of it in one read when the slice reaches up to the new part (the first pull, `lookback_every` 0).
        let recent = max(settings.startMilliseconds, cursor.serverTimeMilliseconds.saturatingSubtracting(settings.shortLookbackMilliseconds))
        let windowStart = max(settings.startMilliseconds, cursor.serverTimeMilliseconds.saturatingSubtracting(settings.lookbackMilliseconds))
        let slice = reachBack.slice(of: min(windowStart, recent)..<recent, every: settings.lookbackEvery, at: started)
        let from = slice.upperBound == recent ? min(slice.lowerBound, recent) : recent
        // A minute past the bridge's clock: a deal stamped a little ahead of it is not left for the next poll.
        let to = max(from.saturatingAdding(1), serverNow.saturatingAdding(60_000))
        var pages = try await pull(fromMilliseconds: from, toMilliseconds: to, movingCursor: true, batcher: batcher)
        if slice.upperBound < recent, !slice.isEmpty {
            // Behind the cursor: a re-read never moves it.
            let again = try await pull(fromMilliseconds: slice.lowerBound, toMilliseconds: slice.upperBound, movingCursor: false, batcher: batcher)
            pages.pages += again.pages
            pages.records += again.records
            pages.outcome = pages.outcome + again.outcome
        }
        // Only a pull that got through moves the sweep on (a failed one re-reads the same slice next time).
        reachBack.done(upTo: slice.upperBound, at: started)
        report.pages = pages.pages
        report.records = pages.records
        report.outcome = pages.outcome
        if platform == .mt4 {
            report.openTrades = try await pullOpenTrades(batcher: batcher, into: &report)
        }
        if capabilities.contains("changes") {
            report.changes = try await followChanges(batcher: batcher, serverNowMilliseconds: serverNow, into: &report)
        }
        let caughtUp = try await DecisionCatchUp(batcher: batcher, connection: connection, platform: platform).run()
        report.released = caughtUp.released + (report.accounts?.released ?? 0)
        report.stillPending = caughtUp.stillPending
        report.outcome = report.outcome + caughtUp.outcome
        if report.outcome.pending > 0 || caughtUp.stillPending > 0 {
            try await warnAboutOldPending()
        }
        report.cursor = try await connection.run { connection in try FactStore.cursor(serverID: serverID, stream: stream, on: connection) }
        return report
    }

    /// The batcher with the server's symbol definitions as stored (loaded once, again after a symbols refresh).
    func currentBatcher() async throws -> RecordBatcher {
        // Within the window at mtsync's own clock; an incremental pull uses the bridge's clock when it is plausible (`pull()`).
        if let cached = symbols.cached { return batcher.with(serverSymbols: cached).within(batcher.ownClock()) }
        let loaded = try await ServerSymbols.load(server: serverID.rawValue, on: connection)
        symbols.store(loaded)
        return batcher.with(serverSymbols: loaded).within(batcher.ownClock())
    }

    /// The open trades of an MT4 server (§4.3, `set: "open"`), every pull: their open legs are stored as they open,
    /// not when the trade closes. Unchanged trades change nothing (their content hash is the same).
    func pullOpenTrades(batcher: RecordBatcher, into report: inout SyncReport) async throws -> Int {
        var after: TradePosition?
        var total = 0
        let pageSize = settings.pageSize
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let page = try await client.openTrades(after: after, limit: pageSize)
            let read = ContinuousClock.now - started
            var batch = batcher.batch(openTrades: page.records)
            batch.quarantine += page.notes.rejected.map { line in
                QuarantineEntry(serverID: serverID.rawValue, stream: SyncStream.openTrades.rawValue, source: "tcp", lineNumber: nil, reasonCode: line.code, reason: line.reason, raw: line.raw)
            }
            if !page.records.isEmpty || !batch.quarantine.isEmpty {
                try await store(batch, records: page.records.count, read: read, into: &report, stream: .openTrades)
            }
            try await reportAnomalies(page.notes.anomalies, stream: .openTrades)
            total += page.records.count
            // Paging continues after the last order sent, never after what `next` claims (invariant 7), and only forward.
            guard page.more, let last = page.records.last?.order.flatMap({ UInt64($0) }), last > after?.order ?? 0 else { break }
            after = TradePosition(closeTime: nil, order: last)
        }
        try await StreamRefresh.record(server: serverID.rawValue, stream: .openTrades, records: total, on: connection)
        return total
    }

    /// Logs, counts and records for `status` what the bridge said that was not believed.
    func reportAnomalies(_ anomalies: [BridgeAnomaly], stream: SyncStream? = nil) async throws {
        guard !anomalies.isEmpty else { return }
        for anomaly in anomalies {
            SyncMetric.bridgeAnomalies.increment(serverID.rawValue, anomaly.code)
            logger.warning("the bridge broke the protocol; not believed, nothing lost", metadata: ["code": "\(anomaly.code)", "detail": "\(anomaly.message)"])
        }
        let summary = anomalies.map(\.description).joined(separator: "; ")
        try await FactStore.recordWarning(serverID: serverID, stream: stream ?? self.stream, message: String(summary.prefix(2_000)), on: connection)
    }

    func store(
        _ batch: PageBatch, staged: StagedPage? = nil, records: Int, read: Duration? = nil, into report: inout SyncReport, stream: SyncStream? = nil
    ) async throws {
        let stream = stream ?? self.stream
        let fence = ServerLease.fence
        let started = ContinuousClock.now
        let (outcome, readings) = try await connection.transaction(name: "store page") { connection in
            try ServerLease.assertFenced(fence, on: connection)
            return try FactStore.store(batch, staged: staged, on: connection)
        }
        storeReadings.learn(readings)
        let stored = ContinuousClock.now - started
        report.pages += 1
        report.records += records
        report.outcome = report.outcome + outcome
        Self.count(outcome, server: serverID.rawValue, stream: stream.rawValue, read: read, stored: stored)
        logger.info("page stored", metadata: [
            "stream": "\(stream.rawValue)", "records": "\(records)", "inserted": "\(outcome.inserted)", "updated": "\(outcome.updated)",
            "unchanged": "\(outcome.unchanged)", "deleted": "\(outcome.deleted)", "quarantined": "\(outcome.quarantined)",
            "excluded": "\(outcome.excluded)", "pending": "\(outcome.pending)",
            "read_ms": "\(read.map { "\($0.wholeMilliseconds)" } ?? "-")", "store_ms": "\(stored.wholeMilliseconds)",
            "cursor": "\(batch.cursor.map(\.description) ?? "-")",
        ])
    }

    /// A stored page in the metrics: its facts by change, its quarantined records and its two durations.
    static func count(_ outcome: PageOutcome, server: String, stream: String, read: Duration?, stored: Duration) {
        SyncMetric.factsSynced.increment(by: outcome.inserted, server, stream, "inserted")
        SyncMetric.factsSynced.increment(by: outcome.updated, server, stream, "updated")
        SyncMetric.factsSynced.increment(by: outcome.deleted, server, stream, "deleted")
        SyncMetric.recordsQuarantined.increment(by: outcome.quarantined, server, stream)
        SyncMetric.factsExcluded.increment(by: outcome.excluded, server, stream)
        SyncMetric.recordsHeld.increment(by: outcome.pending, server, stream)
        if let read { SyncMetric.pageDuration.record(read, server, stream, "read") }
        SyncMetric.pageDuration.record(stored, server, stream, "store")
    }
}
