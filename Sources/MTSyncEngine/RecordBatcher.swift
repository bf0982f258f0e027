import Foundation
import MTSyncBridge
import MTSyncCore

/// Turns a page of raw records into what the store writes for it in one transaction: the facts normalization
/// makes, one source record per raw record (for reconcile), and a quarantine entry for each record that could
/// not be normalized, with the reason and the record's fields as sent. Pure: no I/O.
///
/// The facts are not decided here: each record goes to the store with its facts and the server's `AccountPolicy`,
/// and the store decides them from the record's account in the page's transaction (or holds the record).
public struct RecordBatcher: Sendable {
    public private(set) var normalizer: Normalizer
    /// Where quarantine entries and held records say the records came from (`tcp`, `csv:<file>`).
    public var source: String
    /// The record times this batcher's pages may store; a record outside is quarantined (`timeImplausible`). Set
    /// per pull from the server's clock (`within(_:)`, `ServerClock`); a batcher nobody gave a window keeps only
    /// the times a zone can convert.
    public private(set) var times: PlausibleTimes = .convertible

    public init(normalizer: Normalizer, source: String = "tcp") {
        self.normalizer = normalizer
        self.source = source
    }

    /// The same batcher with the window of a page or pull.
    public func within(_ times: PlausibleTimes) -> RecordBatcher {
        var copy = self
        copy.times = times
        return copy
    }

    /// The same batcher with the window at `clock` under the server's `plausible_times`.
    public func within(_ clock: ServerClock) -> RecordBatcher {
        within(normalizer.settings.plausibleTimes.window(at: clock))
    }

    /// The server's clock when the bridge says nothing about it, or a drop folder: mtsync's own, in the server's zone.
    public func ownClock(now: Date = Date()) -> ServerClock {
        normalizer.settings.plausibleTimes.serverClock(reported: nil, utcNowMilliseconds: Int64(now.timeIntervalSince1970 * 1000), zone: normalizer.settings.zone)
    }

    /// What the bridge's `server_time_ms` says, checked against mtsync's own clock (`PlausibleTimeRule.serverClock`).
    public func serverClock(reported: Int64?, now: Date = Date()) -> ServerClock {
        normalizer.settings.plausibleTimes.serverClock(reported: reported, utcNowMilliseconds: Int64(now.timeIntervalSince1970 * 1000), zone: normalizer.settings.zone)
    }

    public var serverID: ServerID { normalizer.settings.server }
    public var policy: AccountPolicy { AccountPolicy(settings: normalizer.settings) }

    /// The same batcher with the server's own symbol definitions (its `symbols` stream or drop files).
    public func with(serverSymbols: [String: ServerSymbol]) -> RecordBatcher {
        var copy = self
        var settings = normalizer.settings
        settings.serverSymbols = serverSymbols
        copy.normalizer = Normalizer(settings: settings)
        return copy
    }

    private func newBatch(stream: SyncStream, cursor: CursorPosition?) -> PageBatch {
        var batch = PageBatch(serverID: serverID, stream: stream, cursor: cursor)
        batch.policy = policy
        batch.source = source
        return batch
    }

    /// MT5 deals (the `deals` stream). `cursor`: where the live cursor moves, nil for backfill and repair.
    public func batch(deals: [MT5DealRecord], cursor: CursorPosition?) -> PageBatch {
        var batch = newBatch(stream: .deals, cursor: cursor)
        batch.undecided.reserveCapacity(deals.count)
        batch.sources.reserveCapacity(deals.count)
        for deal in deals {
            let outcome = normalizer.normalize(deal, within: times)
            let stored = take(outcome, record: .deal(deal), stream: .deals, into: &batch)
            if let ticket = deal.deal.flatMap({ UInt64($0) }), let time = deal.timeMsc.flatMap({ Int64($0) }) ?? deal.time.flatMap({ Int64($0) }).flatMap(Self.milliseconds(seconds:)) {
                batch.sources.append(SourceRecord(
                    ticket: ticket, serverTimeMilliseconds: time,
                    digestPart: DigestChecksum.canonicalLine(deal).map(DigestChecksum.part(ofCanonicalLine:)) ?? 0,
                    volume: deal.volumeExt ?? "0", outcome: stored))
            }
        }
        return batch
    }

    /// MT4 closed history records (the `trades` stream).
    public func batch(trades: [MT4TradeRecord], cursor: CursorPosition?) -> PageBatch {
        var batch = newBatch(stream: .trades, cursor: cursor)
        batch.undecided.reserveCapacity(trades.count)
        batch.sources.reserveCapacity(trades.count)
        for trade in trades {
            let outcome = normalizer.normalize(trade, within: times)
            let stored = take(outcome, record: .trade(trade), stream: .trades, into: &batch)
            if let order = trade.order.flatMap({ UInt64($0) }), let close = trade.closeTime.flatMap({ Int64($0) }).flatMap(Self.milliseconds(seconds:)) {
                batch.sources.append(SourceRecord(
                    ticket: order, serverTimeMilliseconds: close,
                    digestPart: DigestChecksum.canonicalLine(trade).map(DigestChecksum.part(ofCanonicalLine:)) ?? 0,
                    volume: trade.volume ?? "0", outcome: stored))
            }
        }
        return batch
    }

    /// MT4 open trades (the `trades` request's `open` set, or a drop's `open-trades` file): their open legs. They
    /// are a snapshot, not history: no source records (reconcile compares closed history), no cursor.
    public func batch(openTrades: [MT4TradeRecord]) -> PageBatch {
        var batch = newBatch(stream: .openTrades, cursor: nil)
        batch.undecided.reserveCapacity(openTrades.count)
        for trade in openTrades {
            _ = take(normalizer.normalize(trade, within: times), record: .trade(trade), stream: .openTrades, into: &batch)
        }
        return batch
    }

    /// Held records read back (`PendingRecords.due`): normalized again, with the symbols and rules of now, and
    /// decided by the store like any page. Closed history records keep their source records up to date.
    public func batch(held: [HeldRecord], platform: Platform) -> PageBatch {
        var deals: [MT5DealRecord] = [], openTrades: [MT4TradeRecord] = [], trades: [MT4TradeRecord] = []
        for record in held {
            switch (record.raw, record.stream) {
            case (.deal(let deal), _): deals.append(deal)
            case (.trade(let trade), .openTrades): openTrades.append(trade)
            case (.trade(let trade), _): trades.append(trade)
            }
        }
        if platform == .mt5 { return batch(deals: deals, cursor: nil) }
        // Open trades first: a ticket's closed record, decided after, then wins (`FactStore.uniqueFacts`).
        var batch = batch(openTrades: openTrades)
        let closed = self.batch(trades: trades, cursor: nil)
        batch.stream = .trades
        batch.undecided += closed.undecided
        batch.sources = closed.sources
        batch.quarantine += closed.quarantine
        return batch
    }

    /// Edits and deletions from the `changes` stream: updates are merged like any record (their revision goes
    /// up when their content changed), deletions mark every leg of the ticket deleted.
    public func batch(changes: [BridgeChange], platform: Platform) -> PageBatch {
        var updatedDeals: [MT5DealRecord] = [], updatedTrades: [MT4TradeRecord] = [], deleted: [UInt64] = []
        for change in changes {
            switch (change.operation, change.record) {
            case (.update, .deal(let deal)): updatedDeals.append(deal)
            case (.update, .trade(let trade)): updatedTrades.append(trade)
            case (.delete, .deal(let deal)): if let ticket = deal.deal.flatMap({ UInt64($0) }) { deleted.append(ticket) }
            case (.delete, .trade(let trade)): if let order = trade.order.flatMap({ UInt64($0) }) { deleted.append(order) }
            }
        }
        var batch = platform == .mt5 ? batch(deals: updatedDeals, cursor: nil) : batch(trades: updatedTrades, cursor: nil)
        batch.deletedTickets = deleted
        batch.changeSequence = changes.map(\.sequence).max()
        return batch
    }

    /// Seconds (MT5 `Time`, MT4 `close_time`) as milliseconds; nil when the product does not fit (the record
    /// itself is quarantined by the normalizer then, and keeps no source record).
    static func milliseconds(seconds: Int64) -> Int64? {
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        return overflow ? nil : product
    }

    /// Where a page's cursor may move: the last (time, ticket) of the records it does not quarantine (stored,
    /// held or skipped). A record refused for its time — 9999-12-31, `Int64.max` — must not carry the cursor past
    /// every real deal to come.
    public static func lastAccepted(_ batch: PageBatch) -> CursorPosition? {
        batch.sources.filter { $0.outcome != .quarantined }.map { CursorPosition(serverTimeMilliseconds: $0.serverTimeMilliseconds, ticket: $0.ticket) }.max()
    }

    private func take(_ outcome: NormalizationOutcome, record: RawRecord, stream: SyncStream, into batch: inout PageBatch) -> SourceRecord.Outcome {
        switch outcome {
        case .facts(let facts):
            guard let first = facts.first else { return .skipped }
            batch.undecided.append(UndecidedRecord(
                stream: stream, ticket: first.identity.ticket, login: first.login, serverTimeMilliseconds: first.serverTimeMilliseconds,
                raw: record, facts: facts))
            return .stored
        case .skipped:
            return .skipped
        case .rejected(let rejection):
            batch.quarantine.append(QuarantineEntry(
                serverID: serverID.rawValue, stream: stream.rawValue, source: source, lineNumber: nil,
                reasonCode: rejection.code, reason: rejection.description, raw: Self.rawBytes(of: record)))
            return .quarantined
        }
    }

    /// The record's fields as a JSON object with the protocol's names and the values as received.
    static func rawBytes(of record: RawRecord) -> [UInt8] {
        switch record {
        case .deal(let deal): rawBytes(of: deal)
        case .trade(let trade): rawBytes(of: trade)
        }
    }

    static func rawBytes<Record: RawFieldRecord>(of record: Record) -> [UInt8] {
        let members: [(String, JSONValue)] = Record.fieldNames.enumerated().compactMap { index, name in
            record.value(fieldAt: index).map { (name, .string($0)) }
        }
        return JSONValue.object(members).serialized()
    }
}
