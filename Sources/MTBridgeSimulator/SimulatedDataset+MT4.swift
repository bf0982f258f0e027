import MTSyncBridge
import MTSyncCore

/// One MT4 trade record as the simulated server holds it, with its `timestamp` (the record's last change,
/// server time in seconds, which the bridge sends: bridge-protocol/README.md §4.3) kept in step with the
/// record's own field. `closeTime` and `order` are the record's sort keys, parsed once.
public struct SimulatedTrade: Sendable, Hashable {
    public var record: MT4TradeRecord
    public var timestamp: Int64 {
        didSet { record.timestamp = String(timestamp) }
    }
    /// `close_time` in seconds; 0 for an open trade.
    public var closeTime: Int64
    public var order: UInt64

    public init(record: MT4TradeRecord, timestamp: Int64, closeTime: Int64, order: UInt64) {
        self.record = record
        self.record.timestamp = String(timestamp)
        self.timestamp = timestamp
        self.closeTime = closeTime
        self.order = order
    }
}

/// The MT4 history (`platform: .mt4`): MT4 Manager API `TradeRecord`s (../shared/research/metatrader-domain.md §2),
/// generated day by day from the seed like the MT5 deals, from random streams of their own (so adding MT4 left
/// every MT5 output as it was).
///
/// The closed history of a day (records whose `close_time` falls in it) has closed buy and sell trades (some open
/// for days, so opened before the day or before the range), balance (cmd 6) and credit (cmd 7) operations,
/// cancelled pending orders (cmd 2–5, no money), records closed in the same second, trades closing in the hours
/// DST switches touch, tickets above 2^32 and volumes in 1/100 lot. Open trades (`close_time` 0) are a separate
/// set, opened on the last day.
extension SimulatedDataset {
    /// MT4 symbols as brokers decorate them: suffixes, a prefix, none.
    public static let mt4Symbols = ["EURUSD", "GBPUSD.m", "USDJPYpro", "XAUUSD.r", "US30", "EURJPYc", "#AAPL", "BTCUSD_i"]

    /// The symbols this dataset's server lists.
    public var symbolNames: [String] { configuration.platform == .mt4 ? Self.mt4Symbols : Self.symbols }

    /// Server-clock hours touched by DST switches: 03:00–04:00 is skipped and repeated by Europe/Athens servers
    /// (last Sundays of March and October); ny-close servers skip 09:00–10:00 on the second Sunday of March and
    /// repeat 08:00–09:00 on the first Sunday of November. Every day has trades closing in each of them, so a range
    /// over a switch day covers the switch.
    public static let dstSwitchHours: [Int64] = [3, 8, 9]

    static let secondsPerDay: Int64 = 86_400

    /// When the dealer's generation-1 edits and late postings happened: the end of the range (server seconds).
    var editTime: Int64 { range.upperBound / 1000 }

    var containsDays: ClosedRange<Int64> { configuration.firstDay...(configuration.firstDay + Int64(configuration.days) - 1) }

    // MARK: Closed history

    /// The records closed on `day` in `(close_time, order)` order, as the server holds them at `generation`
    /// (generation 1: about 2 % edited by a dealer, 1 % deleted, 1 % more posted late with older times).
    public func closedTrades(onDay day: Int64, generation: Int = 0) -> [SimulatedTrade] {
        let original = originalClosedTrades(onDay: day)
        guard generation > 0, !original.isEmpty else { return original }
        let mutations = tradeMutations(onDay: day, original: original)
        var result: [SimulatedTrade] = []
        result.reserveCapacity(original.count + mutations.late.count)
        for trade in original where !mutations.deleted.contains(trade.order) {
            result.append(mutations.updated[trade.order] ?? trade)
        }
        result += mutations.late
        result.sort { ($0.closeTime, $0.order) < ($1.closeTime, $1.order) }
        return result
    }

    /// Records with `from <= close_time × 1000 < to` after the `(close_time, order)` position, at most `limit`,
    /// and whether more remain (§4.3, `set: closed`).
    public func closedTrades(fromMilliseconds from: Int64, toMilliseconds to: Int64, after: (time: Int64, order: UInt64)?, limit: Int, generation: Int = 0) -> (records: [SimulatedTrade], more: Bool) {
        var page: [SimulatedTrade] = []
        var day = Swift.max(from, range.lowerBound) / Self.millisecondsPerDay
        if let after { day = Swift.max(day, after.time / Self.secondsPerDay) }
        while day * Self.millisecondsPerDay < Swift.min(to, range.upperBound) {
            for trade in closedTrades(onDay: day, generation: generation) {
                let time = trade.closeTime * 1000
                guard time >= from, time < to else { continue }
                if let after, (trade.closeTime, trade.order) <= (after.time, after.order) { continue }
                if page.count == limit { return (page, true) }
                page.append(trade)
            }
            day += 1
        }
        return (page, false)
    }

    private func originalClosedTrades(onDay day: Int64) -> [SimulatedTrade] {
        guard configuration.platform == .mt4, containsDays.contains(day) else { return [] }
        var random = SplitMix64(seed: configuration.seed &* 0xD1B5_4A32_D192_ED03 &+ UInt64(bitPattern: day))
        let dayStart = day * Self.secondsPerDay
        var drafts: [TradeDraft] = []
        drafts.reserveCapacity(configuration.dealsPerDay)
        for index in 0..<configuration.dealsPerDay {
            let login = Self.firstLogin + random.next(below: UInt64(configuration.logins))
            let roll = random.next(below: 100)
            var closeTime = dayStart + Int64(random.next(below: UInt64(Self.secondsPerDay)))
            if index < Self.dstSwitchHours.count * 2 {
                closeTime = dayStart + Self.dstSwitchHours[index / 2] * 3600 + Int64(random.next(below: 3600))
            } else if roll == 98, let previous = drafts.last {
                // Two records closed in the same second: paging by (close_time, order) must keep both.
                closeTime = previous.closeTime
            }
            drafts.append(Self.historyDraft(login: login, roll: roll, closeTime: closeTime, random: &random))
        }
        // MT4 numbers a trade when it is opened, so tickets follow open time.
        let byOpenTime = drafts.indices.sorted { (drafts[$0].openTime, $0) < (drafts[$1].openTime, $1) }
        var trades = byOpenTime.enumerated().map { offset, index in
            drafts[index].trade(order: Self.ticketBase + UInt64(day) * 10_000_000 + 5_000_000 + UInt64(offset), timestamp: drafts[index].closeTime)
        }
        trades.sort { ($0.closeTime, $0.order) < ($1.closeTime, $1.order) }
        return trades
    }

    static func historyDraft(login: UInt64, roll: UInt64, closeTime: Int64, random: inout SplitMix64) -> TradeDraft {
        if roll < 7 {
            // Balance (deposit, withdrawal) or credit: no symbol, no volume, the amount in profit.
            let cents = Int64(random.next(below: 500_000)) + 1_000
            let negative = roll == 4 || roll == 6
            let cmd = roll < 5 ? 6 : 7
            return TradeDraft(login: login, cmd: cmd, symbol: "", volume: 0, openTime: closeTime, closeTime: closeTime, openPrice: "0", closePrice: "0",
                              commissionCents: 0, storageCents: 0, profitCents: negative ? -cents : cents, taxesCents: 0, magic: 0, reason: 2,
                              comment: cmd == 6 ? (negative ? "Withdrawal" : "Deposit") : (negative ? "credit out" : "credit in"))
        }
        let symbol = mt4Symbols[Int(random.next(below: UInt64(mt4Symbols.count)))]
        let volume = 1 + random.next(below: 500)  // 0.01 … 5.00 lots
        let openPrice = mt4Price(symbol, random: &random)
        let duration = 1 + Int64(random.next(below: UInt64(3 * secondsPerDay)))
        if roll < 12 {
            // A limit or stop order cancelled (or expired) before it filled: in the history, without money.
            return TradeDraft(login: login, cmd: 2 + Int(random.next(below: 4)), symbol: symbol, volume: volume, openTime: closeTime - duration, closeTime: closeTime,
                              openPrice: openPrice, closePrice: openPrice, commissionCents: 0, storageCents: 0, profitCents: 0, taxesCents: 0, magic: 0,
                              reason: 0, comment: "cancelled")
        }
        let profit = Int64(random.next(below: 400_000)) - 200_000
        let reason = Int(random.next(below: 3))  // client, expert, dealer
        return TradeDraft(login: login, cmd: Int(random.next(below: 2)), symbol: symbol, volume: volume, openTime: closeTime - duration, closeTime: closeTime,
                          openPrice: openPrice, closePrice: mt4Price(symbol, random: &random),
                          // MT4 charges the round turn's commission at open: 7.00 per lot.
                          commissionCents: -Int64(volume) * 7, storageCents: -Int64(volume) * (duration / secondsPerDay), profitCents: profit,
                          taxesCents: roll == 99 && profit > 0 ? -profit / 10 : 0, magic: reason == 1 ? 20_250_101 : 0, reason: reason,
                          comment: roll % 10 == 3 ? "[tp]" : (roll % 10 == 4 ? "[sl]" : ""))
    }

    static func mt4Price(_ symbol: String, random: inout SplitMix64) -> String {
        price(for: String(symbol.drop { $0 == "#" }), random: &random)
    }

    /// Price digits of an MT4 symbol (the same scales `price(for:random:)` uses).
    static func mt4Digits(_ symbol: String) -> Int {
        switch symbol {
        case "": 0
        case let name where name.hasPrefix("XAU") || name.contains("BTC") || name.contains("AAPL"): 2
        case let name where name.contains("JPY"): 3
        case let name where name.contains("US30"): 1
        default: 5
        }
    }

    // MARK: Open trades

    /// The trades open now (`close_time` 0, buy or sell), opened on the last day of the range, in ascending
    /// `order`; their profit is floating. Not changed by generations.
    public func openTrades() -> [SimulatedTrade] {
        guard configuration.platform == .mt4 else { return [] }
        var random = SplitMix64(seed: configuration.seed ^ 0x0123_4567_89AB_CDEF)
        let lastDay = configuration.firstDay + Int64(configuration.days) - 1
        var drafts: [TradeDraft] = []
        for _ in 0..<Swift.max(3, configuration.logins) {
            let login = Self.firstLogin + random.next(below: UInt64(configuration.logins))
            let symbol = Self.mt4Symbols[Int(random.next(below: UInt64(Self.mt4Symbols.count)))]
            let volume = 1 + random.next(below: 500)
            let openTime = lastDay * Self.secondsPerDay + Int64(random.next(below: UInt64(Self.secondsPerDay)))
            drafts.append(TradeDraft(login: login, cmd: Int(random.next(below: 2)), symbol: symbol, volume: volume, openTime: openTime, closeTime: 0,
                                     openPrice: Self.mt4Price(symbol, random: &random), closePrice: Self.mt4Price(symbol, random: &random),
                                     commissionCents: -Int64(volume) * 7, storageCents: 0, profitCents: Int64(random.next(below: 100_000)) - 50_000,
                                     taxesCents: 0, magic: 0, reason: 0, comment: ""))
        }
        drafts.sort { $0.openTime < $1.openTime }
        return drafts.enumerated().map { offset, draft in
            draft.trade(order: Self.ticketBase + UInt64(lastDay) * 10_000_000 + 8_000_000 + UInt64(offset), timestamp: draft.openTime)
        }
    }

    /// Open trades after `order`, at most `limit`, and whether more remain (§4.3, `set: open`).
    public func openTrades(after: UInt64?, limit: Int) -> (records: [SimulatedTrade], more: Bool) {
        let remaining = openTrades().filter { after == nil || $0.order > after! }
        return (Array(remaining.prefix(limit)), remaining.count > limit)
    }

    // MARK: Generation 1, changes, digest, ground truth

    /// What a dealer changes on `day` between generation 0 and 1: about 2 % of records edited (profit + 1,
    /// comment), 1 % deleted, and 1 % more trades posted late (higher tickets, older close times in the day).
    public func tradeMutations(onDay day: Int64, original: [SimulatedTrade]? = nil) -> (updated: [UInt64: SimulatedTrade], deleted: Set<UInt64>, late: [SimulatedTrade]) {
        let original = original ?? originalClosedTrades(onDay: day)
        guard !original.isEmpty else { return ([:], [], []) }
        var random = SplitMix64(seed: configuration.seed ^ 0x5A5A_A5A5_FEED_FACE &+ UInt64(bitPattern: day))
        var updated: [UInt64: SimulatedTrade] = [:]
        var deleted: Set<UInt64> = []
        for trade in original {
            let roll = random.next(below: 100)
            if roll < 2 {
                var edited = trade
                edited.record.profit = ExactDecimal(parsing: trade.record.profit ?? "0")!.adding(ExactDecimal(1))!.description
                edited.record.comment = "edited by dealer"
                edited.timestamp = editTime
                updated[trade.order] = edited
            } else if roll < 3 {
                deleted.insert(trade.order)
            }
        }
        var late: [SimulatedTrade] = []
        for index in 0..<Swift.max(1, original.count / 100) {
            let login = Self.firstLogin + random.next(below: UInt64(configuration.logins))
            let closeTime = day * Self.secondsPerDay + Int64(random.next(below: UInt64(Self.secondsPerDay)))
            var draft = Self.historyDraft(login: login, roll: 50, closeTime: closeTime, random: &random)
            draft.comment = "late #\(index)"
            late.append(draft.trade(order: Self.ticketBase + UInt64(day) * 10_000_000 + 9_000_000 + UInt64(index), timestamp: editTime))
        }
        return (updated, deleted, late)
    }

    /// Edits and deletions of generation 1 in order, numbered from 1: what `changes` serves for MT4. A deletion
    /// carries only `order`.
    public func tradeChanges() -> [(seq: Int64, op: String, trade: SimulatedTrade)] {
        var changes: [(Int64, String, SimulatedTrade)] = []
        for day in containsDays {
            let original = originalClosedTrades(onDay: day)
            let mutations = tradeMutations(onDay: day, original: original)
            for trade in original {
                if let edited = mutations.updated[trade.order] {
                    changes.append((Int64(changes.count + 1), "update", edited))
                } else if mutations.deleted.contains(trade.order) {
                    var identity = MT4TradeRecord()
                    identity.order = trade.record.order
                    changes.append((Int64(changes.count + 1), "delete", SimulatedTrade(record: identity, timestamp: editTime, closeTime: trade.closeTime, order: trade.order)))
                }
            }
        }
        return changes
    }

    /// Per-bucket count, volume and checksum of the closed history by `close_time` (§4.7, `stream: trades`).
    public func tradeDigest(fromMilliseconds from: Int64, toMilliseconds to: Int64, bucketMilliseconds bucket: Int64, generation: Int = 0) -> [(from: Int64, to: Int64, count: Int, volume: UInt64, checksum: DigestChecksum)] {
        var buckets: [(Int64, Int64, Int, UInt64, DigestChecksum)] = []
        var start = from
        var dayCache: (day: Int64, trades: [SimulatedTrade])?
        while start < to {
            let end = Swift.min(start + bucket, to)
            var checksum = DigestChecksum()
            var volume: UInt64 = 0
            var day = Swift.max(start, 0) / Self.millisecondsPerDay
            while day * Self.millisecondsPerDay < end {
                if dayCache?.day != day { dayCache = (day, closedTrades(onDay: day, generation: generation)) }
                for trade in dayCache!.trades {
                    let time = trade.closeTime * 1000
                    guard time >= start, time < end, let line = DigestChecksum.canonicalLine(trade.record) else { continue }
                    checksum.add(canonicalLine: line)
                    volume += UInt64(trade.record.volume ?? "0") ?? 0
                }
                day += 1
            }
            buckets.append((start, end, checksum.count, volume, checksum))
            start = end
        }
        return buckets
    }

    func mt4GroundTruth(generation: Int) -> [UInt64: LoginTruth] {
        var truth: [UInt64: LoginTruth] = [:]
        for day in containsDays {
            for trade in closedTrades(onDay: day, generation: generation) {
                let record = trade.record
                // Cancelled pending orders become no facts (they are counted as skipped).
                if let cmd = Int(record.cmd ?? ""), (2...5).contains(cmd) { continue }
                let login = UInt64(record.login!)!
                var entry = truth[login, default: LoginTruth()]
                entry.deals += 1
                entry.volumeExt += UInt64(record.volume!)! * 1_000_000
                entry.netCents += Self.cents(record.profit) + Self.cents(record.storage) + Self.cents(record.commission) + Self.cents(record.taxes)
                truth[login] = entry
            }
        }
        return truth
    }
}

/// An MT4 trade record before its ticket is known (tickets follow open time, as a real server's do).
struct TradeDraft {
    var login: UInt64
    var cmd: Int
    var symbol: String
    var volume: UInt64
    var openTime: Int64
    var closeTime: Int64
    var openPrice: String
    var closePrice: String
    var commissionCents: Int64
    var storageCents: Int64
    var profitCents: Int64
    var taxesCents: Int64
    var magic: UInt64
    var reason: Int
    var comment: String

    func trade(order: UInt64, timestamp: Int64) -> SimulatedTrade {
        func money(_ cents: Int64) -> String { ExactDecimal(Int128(cents), scale: 2)!.description }
        var record = MT4TradeRecord()
        record.order = String(order)
        record.login = String(login)
        record.symbol = symbol
        record.digits = String(SimulatedDataset.mt4Digits(symbol))
        record.cmd = String(cmd)
        record.volume = String(volume)
        record.openTime = String(openTime)
        record.closeTime = String(closeTime)
        record.openPrice = openPrice
        record.closePrice = closePrice
        record.sl = "0"
        record.tp = "0"
        record.commission = money(commissionCents)
        record.commissionAgent = "0"
        record.storage = money(storageCents)
        record.profit = money(profitCents)
        record.taxes = money(taxesCents)
        record.magic = String(magic)
        record.comment = comment
        record.reason = String(reason)
        return SimulatedTrade(record: record, timestamp: timestamp, closeTime: closeTime, order: order)
    }
}
