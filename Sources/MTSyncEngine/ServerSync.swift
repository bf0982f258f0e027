import Foundation
import Logging
import MTSyncBridge
import MTSyncCore
import MTSyncStore

/// How one trade server is synced from its bridge.
public struct ServerSyncSettings: Sendable {
    /// Server time (ms) where the history starts mattering: the first incremental pull starts here.
    public var startMilliseconds: Int64
    /// Re-read before the cursor on every incremental pull, so deals posted late with an older time are caught.
    public var lookback: Duration
    public var pageSize: Int
    /// How often a pull reads the bridge's accounts whole (bridges with `accounts`).
    public var accountsEvery: Duration
    /// While records wait for their accounts, the accounts are read again this often (at most), so a new account's
    /// deals are decided within about this long.
    public var pendingAccountsEvery: Duration
    /// How often a pull reads the bridge's symbols (bridges with `symbols`).
    public var symbolsEvery: Duration
    /// Records waiting for their account longer than this are logged as a warning after each pull.
    public var pendingWarnAfter: Duration
    /// How often a pull reads the bridge's end-of-day records (bridges with `daily`), from a week before the last
    /// day read: the server recomputes recent days after late deals.
    public var dailyEvery: Duration = .seconds(3_600)
    /// When the bridge says `changes_expired` (its journal lost events: a restart, a reconnect, retention), the
    /// window reconciled with repair before following its changes again from the start of its journal.
    public var changesRecoveryWindow: Duration = .seconds(3 * 86_400)

    public init(
        startMilliseconds: Int64, lookback: Duration = .seconds(7_200), pageSize: Int = 5_000, accountsEvery: Duration = .seconds(900),
        pendingAccountsEvery: Duration = .seconds(60), symbolsEvery: Duration = .seconds(3_600), pendingWarnAfter: Duration = .seconds(3_600)
    ) {
        self.pendingWarnAfter = pendingWarnAfter
        self.startMilliseconds = startMilliseconds
        self.lookback = lookback
        self.pageSize = pageSize
        self.accountsEvery = accountsEvery
        self.pendingAccountsEvery = pendingAccountsEvery
        self.symbolsEvery = symbolsEvery
    }

    var lookbackMilliseconds: Int64 { lookback.components.seconds * 1000 + lookback.components.attoseconds / 1_000_000_000_000_000 }
}

/// What a pull did.
public struct SyncReport: Sendable, Hashable {
    public var pages = 0
    public var records = 0
    public var changes = 0
    /// MT4 open trades read (the `trades` request's `open` set).
    public var openTrades = 0
    public var outcome = PageOutcome()
    /// The accounts read in this pull, when they were due.
    public var accounts: AccountSync.Report?
    /// Held records decided in this pull (their account arrived), and those still held.
    public var released = 0
    public var stillPending = 0
    /// Where the live cursor stood after the pull.
    public var cursor: CursorPosition?

    public init() {}
}

/// Syncs one trade server: incremental pulls that move the live cursor, bounded backfills that do not, and the
/// reconcile of digests with repair. Every page is one store transaction (`FactStore.store`): its facts,
/// outbox events, source records, quarantine entries and cursor commit together or not at all, so a crash at
/// any instant loses at most the page in flight, which the next pull reads again.
public struct ServerSync: Sendable {
    /// The bridge; inside a round (`pull`, a bounded pull, a reconcile) one whose requests share one session.
    public private(set) var client: BridgeClient
    public let connection: PostgresConnection
    public let batcher: RecordBatcher
    public let settings: ServerSyncSettings
    /// One `page stored` line per page (at info), with its counts and how long reading and storing took.
    public let logger: Logger

    /// The server's symbol definitions as last loaded from the store (the batcher's contract sizes).
    let symbols = ServerSymbolCache()

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
    /// `cursor - lookback` up to the bridge's clock page by page, an MT4 server's open trades, the `changes` stream
    /// when the bridge offers it, and last the held records whose account arrived.
    public func pull() async throws -> SyncReport {
        try await client.withSession { client in try await self.with(client).pullRound() }
    }

    /// This sync on `client` (a session's).
    func with(_ client: BridgeClient) -> ServerSync {
        var sync = self
        sync.client = client
        return sync
    }

    private func pullRound() async throws -> SyncReport {
        let (reported, capabilities) = try await client.withRetries { connection in
            let info = try await connection.serverInfo()
            return (info["server_time_ms"]?.text.flatMap { Int64($0) }, connection.welcome?.capabilities ?? [])
        }
        // The bridge's clock only when it is plausible itself (issue 20: Int64.max crashed the daemon here).
        let clock = serverClock(reported: reported)
        if let distrusted = clock.distrusted {
            try await reportAnomalies([BridgeAnomaly(
                code: "implausible_clock", message: "server.info's server_time_ms \(distrusted) is not a plausible server clock: mtsync's own clock in the server's zone is used")])
        }
        let serverNow = clock.nowMilliseconds
        let serverID = self.serverID, stream = self.stream
        var report = SyncReport()
        report.accounts = try await refreshReferenceData(capabilities: capabilities, serverNowMilliseconds: serverNow)
        let batcher = try await currentBatcher().within(clock)
        let cursor = try await connection.run { connection in try FactStore.cursor(serverID: serverID, stream: stream, on: connection) }
        let from = max(settings.startMilliseconds, cursor.serverTimeMilliseconds.saturatingSubtracting(settings.lookbackMilliseconds))
        // A minute past the bridge's clock: a deal stamped a little ahead of it is not left for the next poll.
        let to = max(from.saturatingAdding(1), serverNow.saturatingAdding(60_000))
        let pages = try await pull(fromMilliseconds: from, toMilliseconds: to, movingCursor: true, batcher: batcher)
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

    /// What a pull does first, for the bounded jobs (backfill): the accounts and symbols when they are due, so the
    /// range's facts are decided from accounts as fresh as the live sync's.
    public func refreshReferenceData() async throws -> AccountSync.Report? {
        try await client.withSession { client in
            let sync = self.with(client)
            let capabilities = try await client.withRetries { connection in connection.welcome?.capabilities ?? [] }
            return try await sync.refreshReferenceData(capabilities: capabilities)
        }
    }

    /// The end-of-day records of the server days starting in `[from, to)` (bridges with `daily`; nil otherwise), for
    /// the tier snapshots: a backfill's range, or a repairing reconcile's.
    public func readDaily(fromMilliseconds from: Int64, toMilliseconds to: Int64) async throws -> DailySync.Report? {
        try await client.withSession { client in
            let capabilities = try await client.withRetries { connection in connection.welcome?.capabilities ?? [] }
            guard capabilities.contains("daily") else { return nil }
            return try await DailySync(client: client, connection: connection, serverID: serverID, zone: batcher.normalizer.settings.zone, startMilliseconds: 0)
                .read(fromMilliseconds: from, toMilliseconds: to)
        }
    }

    /// What a pull does last: held records whose account arrived are decided, and stored facts a new account
    /// version decides differently are sent or retracted.
    public func catchUpDecisions() async throws -> DecisionCatchUp.Report {
        try await DecisionCatchUp(batcher: try await currentBatcher(), connection: connection, platform: platform).run()
    }

    /// Logs a warning when records have waited for their account longer than `pendingWarnAfter`: the bridge does not
    /// send those accounts (or not with a group), and nothing of those logins reaches the platform meanwhile.
    func warnAboutOldPending() async throws {
        let summary = try await PendingRecords.summary(server: serverID.rawValue, on: connection)
        guard let oldest = summary.oldestSeconds, oldest > settings.pendingWarnAfter.fractionalSeconds else { return }
        logger.warning("records wait for their account longer than pending_warn_after", metadata: [
            "records": "\(summary.records)", "logins": "\(summary.logins)", "account_unknown": "\(summary.accountUnknown)",
            "group_unknown": "\(summary.groupUnknown)", "oldest_seconds": "\(Int(oldest))",
            "hint": "the bridge has not sent these accounts (or sent them without a group); mtsync status lists them; mtsync accounts sync reads them now",
        ])
    }

    /// Reads the accounts when they are due — every `accountsEvery`, or every `pendingAccountsEvery` while records
    /// wait for theirs — and the symbols every `symbolsEvery`, when the bridge serves them.
    func refreshReferenceData(capabilities: [String], serverNowMilliseconds serverNow: Int64? = nil) async throws -> AccountSync.Report? {
        let server = serverID.rawValue
        let (lastRead, holdsPending) = try await StreamRefresh.state(server: server, on: connection)
        let now = Date()
        func due(_ stream: SyncStream, every: Duration) -> Bool {
            guard let last = lastRead[stream] else { return true }
            return now.timeIntervalSince(last) >= every.fractionalSeconds
        }
        if capabilities.contains("symbols"), due(.symbols, every: settings.symbolsEvery) {
            try await refreshSymbols()
        }
        var report: AccountSync.Report?
        if capabilities.contains("accounts"),
           due(.accounts, every: settings.accountsEvery) || (holdsPending && due(.accounts, every: settings.pendingAccountsEvery)) {
            let accounts = try await AccountSync(client: client, connection: connection, batcher: try await currentBatcher(), pageSize: 1_000).pull()
            logger.info("accounts synced", metadata: [
                "accounts": "\(accounts.accounts)", "changed": "\(accounts.changed)", "without_customer_id": "\(accounts.withoutCustomerID)",
                "quarantined": "\(accounts.quarantined)", "released": "\(accounts.released)", "still_pending": "\(accounts.stillPending)",
            ])
            report = accounts
        }
        // The daily records after the accounts: a record of a login whose account is not known is quarantined.
        if capabilities.contains("daily"), due(.daily, every: settings.dailyEvery), let serverNow {
            let daily = try await DailySync(
                client: client, connection: connection, serverID: serverID, zone: batcher.normalizer.settings.zone, startMilliseconds: settings.startMilliseconds
            ).pull(serverNowMilliseconds: serverNow)
            logger.info("daily records synced", metadata: ["records": "\(daily.records)", "quarantined": "\(daily.quarantined)"])
        }
        return report
    }

    /// Reads the bridge's symbols (§4.5) into the store: each validated, a bad one quarantined.
    public func refreshSymbols() async throws {
        let server = serverID.rawValue
        let raw = try await client.withRetries { connection in try await connection.symbols() }
        var symbols: [ServerSymbol] = [], quarantine: [QuarantineEntry] = []
        for data in raw {
            let record = RawSymbolRecord(object: data)
            switch record.normalized() {
            case .success(let symbol): symbols.append(symbol)
            case .failure(let rejection):
                quarantine.append(QuarantineEntry(
                    serverID: server, stream: SyncStream.symbols.rawValue, source: "tcp", lineNumber: nil, reasonCode: rejection.code,
                    reason: rejection.description, raw: RecordBatcher.rawBytes(of: record)))
            }
        }
        try await connection.transaction(name: "store symbols") { [symbols, quarantine] connection in
            for entry in quarantine { try entry.insert(on: connection) }
            try ServerSymbols.store(server: server, symbols: symbols, source: "tcp", on: connection)
        }
        try await StreamRefresh.record(server: server, stream: .symbols, records: symbols.count, on: connection)
        self.symbols.invalidate()
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
            let page = try await client.withRetries { [after] connection in try await connection.tradesPage(set: .open, after: after, limit: pageSize) }
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

    /// Pulls `[from, to)` page by page. With `movingCursor`, each page advances the live cursor in its
    /// transaction; without (backfill, repair), the cursor is left alone.
    /// `backfillJobID` tags the events of the facts stored with that backfill job (their messages are flagged
    /// `"backfill": true`).
    public func pull(fromMilliseconds from: Int64, toMilliseconds to: Int64, movingCursor: Bool, backfillJobID: Int64? = nil) async throws -> SyncReport {
        try await client.withSession { client in
            try await self.with(client).pull(fromMilliseconds: from, toMilliseconds: to, movingCursor: movingCursor, backfillJobID: backfillJobID, batcher: try await currentBatcher())
        }
    }

    func pull(fromMilliseconds from: Int64, toMilliseconds to: Int64, movingCursor: Bool, backfillJobID: Int64? = nil, batcher: RecordBatcher) async throws -> SyncReport {
        var report = SyncReport()
        let server = serverID, stream = self.stream
        switch platform {
        case .mt5:
            try await storeInOrder(client.deals(fromMilliseconds: from, toMilliseconds: to, pageSize: settings.pageSize), into: &report) { page in
                let position = movingCursor ? page.position.map { CursorPosition(serverTimeMilliseconds: $0.timeMsc, ticket: $0.deal) } : nil
                var batch = batcher.batch(deals: page.records, cursor: position)
                batch.quarantine += Self.quarantine(of: page, server: server, stream: stream)
                batch.backfillJobID = backfillJobID
                return (batch, Self.duplicates(page.records.compactMap { $0.deal.flatMap { UInt64($0) } }))
            }
        case .mt4:
            try await storeInOrder(client.closedTrades(fromMilliseconds: from, toMilliseconds: to, pageSize: settings.pageSize), into: &report) { page in
                let position = movingCursor ? page.position.map { CursorPosition(serverTimeMilliseconds: ($0.closeTime ?? 0) &* 1000, ticket: $0.order) } : nil
                var batch = batcher.batch(trades: page.records, cursor: position)
                batch.quarantine += Self.quarantine(of: page, server: server, stream: stream)
                batch.backfillJobID = backfillJobID
                return (batch, Self.duplicates(page.records.compactMap { $0.order.flatMap { UInt64($0) } }))
            }
        }
        return report
    }

    /// The quarantine entries of what a page could not store: records outside the requested range, lines that
    /// could not be read (§3: one bad line costs that line, not its page).
    static func quarantine<Record: RawFieldRecord, Position>(of page: BridgePage<Record, Position>, server: ServerID, stream: SyncStream) -> [QuarantineEntry] {
        let outside = page.outsideRange.map { record in
            QuarantineEntry(
                serverID: server.rawValue, stream: stream.rawValue, source: "tcp", lineNumber: nil, reasonCode: "outside_requested_range",
                reason: "the bridge sent this record for a range that does not hold its time (bridge-protocol §4.2/§4.3): not stored, so it cannot move the cursor",
                raw: RecordBatcher.rawBytes(of: record))
        }
        let unreadable = page.notes.rejected.map { line in
            QuarantineEntry(serverID: server.rawValue, stream: stream.rawValue, source: "tcp", lineNumber: nil, reasonCode: line.code, reason: line.reason, raw: line.raw)
        }
        return outside + unreadable
    }

    /// A page that holds the same ticket twice: the last copy wins in the store (a bridge re-sending a record it
    /// changed mid-page), but two copies in one page are a bridge bug worth a word.
    static func duplicates(_ tickets: [UInt64]) -> BridgeAnomaly? {
        var seen = Set<UInt64>(minimumCapacity: tickets.count), repeated = 0
        for ticket in tickets where !seen.insert(ticket).inserted { repeated += 1 }
        guard repeated > 0 else { return nil }
        return BridgeAnomaly(code: "duplicate_in_page", message: "\(repeated) ticket(s) sent twice in one page: the last copy of each was kept")
    }

    /// Stores the pages one transaction each, in order, while the next page is read from the bridge and
    /// normalized: the database, the slower side, never waits for the bridge or for normalization. At most two
    /// pages are in memory (the one being stored and the next); a failure or a cancellation while storing
    /// abandons the page being read, which the next pull reads again like any page not stored.
    private func storeInOrder<Record: Sendable, Position: Sendable & Hashable>(
        _ pages: BridgePages<Record, Position>, into report: inout SyncReport,
        prepare: @escaping @Sendable (BridgePage<Record, Position>) -> (PageBatch, BridgeAnomaly?)
    ) async throws {
        typealias Iterator = BridgePages<Record, Position>.Iterator
        typealias ReadPage = (batch: PageBatch, records: Int, read: Duration, anomalies: [BridgeAnomaly])
        @Sendable func advance(_ iterator: Iterator) async throws -> (page: ReadPage?, iterator: Iterator) {
            var iterator = iterator
            let started = ContinuousClock.now
            guard let page = try await iterator.next() else { return (nil, iterator) }
            let (batch, duplicates) = prepare(page)
            return ((batch, page.records.count + page.outsideRange.count + page.notes.rejected.count, ContinuousClock.now - started,
                     page.notes.anomalies + (duplicates.map { [$0] } ?? [])), iterator)
        }
        var (next, iterator) = try await advance(pages.makeAsyncIterator())
        while let current = next {
            let reading = iterator
            async let following = advance(reading)
            try await store(current.batch, records: current.records, read: current.read, into: &report)
            try await reportAnomalies(current.anomalies)
            (next, iterator) = try await following
        }
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

    func store(_ batch: PageBatch, records: Int, read: Duration? = nil, into report: inout SyncReport, stream: SyncStream? = nil) async throws {
        let stream = stream ?? self.stream
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
            "excluded": "\(outcome.excluded)", "pending": "\(outcome.pending)",
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
        SyncMetric.factsExcluded.increment(by: outcome.excluded, server, stream)
        SyncMetric.recordsHeld.increment(by: outcome.pending, server, stream)
        if let read { SyncMetric.pageDuration.record(read, server, stream, "read") }
        SyncMetric.pageDuration.record(stored, server, stream, "store")
    }
}
