import MTSyncBridge
import MTSyncCore
import Synchronization

/// A deterministic synthetic MT5 deal history (or MT4 trade history: see `SimulatedDataset+MT4.swift`), generated day by day from a seed, so any range can be served
/// without holding the whole history in memory and every run sees the same data.
///
/// It has what real histories have and mtsync must get right: positions opened and closed (some partially, some
/// closed by an opposite position: OUT_BY), balance, credit and bonus operations, technical rollover deals, real
/// and demo logins, symbols with broker suffixes, deals sharing a millisecond, tickets above 2^32, and deals at
/// every hour of the day (so the DST-switch hours of `ny-close` servers are covered when the range spans them).
public struct SimulatedDataset: Sendable {
    public struct Configuration: Sendable, Hashable {
        public var seed: UInt64
        public var serverID: String
        /// First day, as days since 1970 in server time.
        public var firstDay: Int64
        public var days: Int
        public var dealsPerDay: Int
        public var logins: Int
        /// MT5 (deals) or MT4 (trade records); one dataset serves one platform, as a real trade server does.
        /// For MT4, `dealsPerDay` is the number of history records closed per day.
        public var platform: Platform
        /// Accounts that arrive after their deals: every sixth login's account (`lateLogins`) is missing from the
        /// accounts stream and the drop's accounts file until generation 1.
        public var lateAccounts: Bool
        /// A demo → real move: the demo logins in `movedLogins` are served in a real group from generation 1, with
        /// `updated_ms` at `moveMilliseconds` (the middle of the range), so their deals before it stay demo.
        public var groupMoves: Bool

        public init(
            seed: UInt64 = 1, serverID: String = "sim-mt5", firstDay: Int64 = 20_089 /* 2025-01-01 */, days: Int = 7, dealsPerDay: Int = 200,
            logins: Int = 20, platform: Platform = .mt5, lateAccounts: Bool = false, groupMoves: Bool = false
        ) {
            self.lateAccounts = lateAccounts
            self.groupMoves = groupMoves
            self.platform = platform
            self.seed = seed
            self.serverID = serverID
            self.firstDay = firstDay
            self.days = days
            self.dealsPerDay = dealsPerDay
            self.logins = logins
        }
    }

    public let configuration: Configuration
    /// The last day served, with its (TimeMsc, Deal) keys: paging through a day costs one generation.
    private let dayCache = DayCache()
    /// The end-of-day states of each generation asked for (`SimulatedDataset+Daily.swift`).
    let dailyCache = DailyCache()
    public static let firstLogin: UInt64 = 100_001
    static let ticketBase: UInt64 = 5_000_000_000
    static let millisecondsPerDay: Int64 = 86_400_000
    public static let symbols = ["EURUSD.pro", "GBPUSD", "USDJPY.raw", "XAUUSDm", "US30.cash", "#BTCUSD", "EURJPY-ECN", "AAPL.m"]

    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// Logins from `firstLogin`, in ascending order: every fifth is a demo account, some are cent accounts (`USC`)
    /// and some have no customer id (see `SimulatedAccount.init(index:)` for the rules). The same for both
    /// platforms.
    public var accounts: [SimulatedAccount] {
        (0..<configuration.logins).map { SimulatedAccount(index: $0) }
    }

    /// The accounts as the bridge serves them (bridge-protocol §4.4) and a drop's accounts file holds them, at
    /// `generation`, ascending by login: with `lateAccounts`, the late ones only from generation 1; with `groupMoves`,
    /// the moved ones in their real group from generation 1.
    public func accountRecords(generation: Int = 0) -> [RawAccountRecord] {
        accounts.compactMap { account in
            if configuration.lateAccounts, generation == 0, lateLogins.contains(account.login) { return nil }
            let moved = configuration.groupMoves && generation > 0 && movedLogins.contains(account.login)
            var record = RawAccountRecord()
            record.login = String(account.login)
            record.group = moved ? Self.movedGroup : account.group
            record.currency = account.currency
            record.leverage = "100"
            // An account the broker has not mapped to a customer has no client_id to send.
            record.clientID = account.clientID
            record.updatedMilliseconds = String(moved ? moveMilliseconds : range.lowerBound)
            // The money now (the end of the range), as IMTUser/IMTAccount give it (§4.4, MAY).
            if let money = money(of: account.login, generation: generation) {
                record.balance = money.balance
                record.credit = money.credit
                record.equity = money.equity
                record.margin = "0"
                record.marginFree = money.equity
            }
            return record
        }
    }

    /// The logins whose accounts arrive late (`lateAccounts`): every sixth.
    public var lateLogins: Set<UInt64> {
        Set(accounts.enumerated().filter { $0.offset % 6 == 5 }.map(\.element.login))
    }

    /// The demo logins that move to a real group (`groupMoves`): every other demo account.
    public var movedLogins: Set<UInt64> {
        Set(accounts.enumerated().filter { $0.offset % 10 == 9 }.map(\.element.login))
    }

    /// Where a moved login goes.
    public static let movedGroup = "real\\moved"

    /// When the moved logins moved: the middle of the range, server time.
    public var moveMilliseconds: Int64 { range.lowerBound + Int64(configuration.days / 2) * Self.millisecondsPerDay + 43_200_000 }

    /// The group of `login` at `serverMilliseconds` as the server finally tells it (generation 1): a moved login is
    /// in its demo group before `moveMilliseconds` and real from it.
    public func group(of login: UInt64, atServerMilliseconds serverMilliseconds: Int64) -> String? {
        guard let account = account(login: login) else { return nil }
        if configuration.groupMoves, movedLogins.contains(login), serverMilliseconds >= moveMilliseconds { return Self.movedGroup }
        return account.group
    }

    /// The account of `login`, if the dataset has it.
    public func account(login: UInt64) -> SimulatedAccount? {
        guard login >= Self.firstLogin, login - Self.firstLogin < UInt64(configuration.logins) else { return nil }
        return SimulatedAccount(index: Int(login - Self.firstLogin))
    }

    /// The range the dataset covers, server time in milliseconds, half-open.
    public var range: Range<Int64> {
        configuration.firstDay * Self.millisecondsPerDay..<(configuration.firstDay + Int64(configuration.days)) * Self.millisecondsPerDay
    }

    /// One day's deals in `(TimeMsc, Deal)` order, as the server holds them at `generation`: generation 0 is
    /// the original history; from generation 1 on, some deals were edited by a dealer (new profit and comment),
    /// some deleted, and some late deals were posted with an older time (see `mutations(onDay:)`).
    public func deals(onDay day: Int64, generation: Int = 0) -> [MT5DealRecord] {
        guard configuration.platform == .mt5 else { return [] }
        let original = originalDeals(onDay: day)
        guard generation > 0 else { return original }
        let mutations = mutations(onDay: day, original: original)
        var result: [MT5DealRecord] = []
        result.reserveCapacity(original.count + mutations.late.count)
        for deal in original {
            let ticket = UInt64(deal.deal!)!
            if mutations.deleted.contains(ticket) { continue }
            result.append(mutations.updated[ticket] ?? deal)
        }
        result += mutations.late
        result.sort { (Int64($0.timeMsc!)!, UInt64($0.deal!)!) < (Int64($1.timeMsc!)!, UInt64($1.deal!)!) }
        return result
    }

    /// What changes between generation 0 and 1 on a day: about 2 % of deals edited, 1 % deleted, and 1 % more
    /// deals posted late (higher tickets, older times inside the day).
    public func mutations(onDay day: Int64, original: [MT5DealRecord]? = nil) -> (updated: [UInt64: MT5DealRecord], deleted: Set<UInt64>, late: [MT5DealRecord]) {
        let original = original ?? originalDeals(onDay: day)
        var random = SplitMix64(seed: configuration.seed ^ 0xA5A5_5A5A_DEAD_BEEF &+ UInt64(bitPattern: day))
        var updated: [UInt64: MT5DealRecord] = [:]
        var deleted: Set<UInt64> = []
        for deal in original {
            let roll = random.next(below: 100)
            let ticket = UInt64(deal.deal!)!
            if roll < 2 {
                var edited = deal
                edited.profit = ExactDecimal(parsing: deal.profit ?? "0")!.adding(ExactDecimal(1))!.description
                edited.comment = "edited by dealer"
                updated[ticket] = edited
            } else if roll < 3 {
                deleted.insert(ticket)
            }
        }
        var late: [MT5DealRecord] = []
        let lateCount = Swift.max(1, original.count / 100)
        for index in 0..<lateCount {
            let login = Self.firstLogin + random.next(below: UInt64(configuration.logins))
            let time = day * Self.millisecondsPerDay + Int64(random.next(below: UInt64(Self.millisecondsPerDay)))
            let draft = Draft(login: login, time: time, action: 2, entry: 0, reason: 2, position: 0, symbol: "", volumeExt: 0, price: "0",
                              profitCents: Int64(random.next(below: 100_000)) + 100, storageCents: 0, commissionCents: 0, feeCents: 0,
                              comment: "late correction #\(index)")
            late.append(draft.record(ticket: Self.ticketBase + UInt64(day) * 10_000_000 + 9_000_000 + UInt64(index)))
        }
        return (updated, deleted, late)
    }

    func originalDeals(onDay day: Int64) -> [MT5DealRecord] {
        guard configuration.platform == .mt5, day >= configuration.firstDay, day < configuration.firstDay + Int64(configuration.days) else { return [] }
        var random = SplitMix64(seed: configuration.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(bitPattern: day))
        let dayStart = day * Self.millisecondsPerDay
        var drafts: [Draft] = []
        drafts.reserveCapacity(configuration.dealsPerDay + 4)
        var positionNumber: UInt64 = 0
        while drafts.count < configuration.dealsPerDay {
            let login = Self.firstLogin + random.next(below: UInt64(configuration.logins))
            let roll = random.next(below: 100)
            let time = dayStart + Int64(random.next(below: UInt64(Self.millisecondsPerDay - 7_200_000)))
            positionNumber += 1
            let position = Self.ticketBase + UInt64(day) * 10_000_000 + positionNumber
            if roll < 6 {
                // Money operation: deposit (balance), credit or bonus.
                let action: UInt32 = roll < 4 ? 2 : (roll == 4 ? 3 : 6)
                let cents = Int64(random.next(below: 500_000)) + 1_000
                drafts.append(Draft(login: login, time: time, action: action, entry: 0, reason: 2, position: 0, symbol: "", volumeExt: 0,
                                    price: "0", profitCents: roll == 5 && random.next(below: 2) == 0 ? -cents : cents, storageCents: 0, commissionCents: 0, feeCents: 0,
                                    comment: action == 2 ? "Deposit #\(positionNumber)" : "promo"))
                continue
            }
            let symbol = Self.symbols[Int(random.next(below: UInt64(Self.symbols.count)))]
            let volumeExt = (1 + random.next(below: 200)) * 1_000_000  // 0.01 … 2.00 lots
            let buy = random.next(below: 2) == 0
            let price = Self.price(for: symbol, random: &random)
            let commission = -Int64(volumeExt / 1_000_000) * 3
            let open = Draft(login: login, time: time, action: buy ? 0 : 1, entry: 0, reason: 0, position: position, symbol: symbol, volumeExt: volumeExt,
                             price: price, profitCents: 0, storageCents: 0, commissionCents: commission, feeCents: 0, comment: "")
            drafts.append(open)
            let closeTime = time + 1 + Int64(random.next(below: 7_000_000))
            let profit = Int64(random.next(below: 40_000)) - 20_000
            if roll < 12, volumeExt >= 2_000_000 {
                // Partial close: two OUT deals share the position.
                let first = volumeExt / 2
                drafts.append(open.closing(at: closeTime, volumeExt: first, profitCents: profit / 2, reason: 4, entry: 1))
                drafts.append(open.closing(at: closeTime + 1 + Int64(random.next(below: 100_000)), volumeExt: volumeExt - first, profitCents: profit - profit / 2, reason: 3, entry: 1))
            } else if roll < 15 {
                // Closed by an opposite position.
                drafts.append(open.closing(at: closeTime, volumeExt: volumeExt, profitCents: profit, reason: 0, entry: 3))
            } else {
                drafts.append(open.closing(at: closeTime, volumeExt: volumeExt, profitCents: profit, reason: roll < 20 ? 6 : 0, entry: 1))
            }
            if roll == 99, drafts.count >= 2 {
                // Two deals in the same millisecond: paging must not lose either.
                drafts[drafts.count - 1].time = drafts[drafts.count - 2].time
            }
        }
        drafts.sort { ($0.time, $0.sequence) < ($1.time, $1.sequence) }
        let numbered = drafts.enumerated().map { offset, draft in
            draft.record(ticket: Self.ticketBase + UInt64(day) * 10_000_000 + 5_000_000 + UInt64(offset))
        }
        return (numbered + reversalDeals(onDay: day)).sorted { (Int64($0.timeMsc!)!, UInt64($0.deal!)!) < (Int64($1.timeMsc!)!, UInt64($1.deal!)!) }
    }

    /// Reversals (one in every hundred deals of a day): a position opened, reversed by an `inout` deal of twice its
    /// volume (closing it and opening the opposite one with the rest), then closed. Their own random stream and
    /// tickets, so the day's other deals stay as they were.
    func reversalDeals(onDay day: Int64) -> [MT5DealRecord] {
        let count = configuration.dealsPerDay / 100
        guard count > 0 else { return [] }
        var random = SplitMix64(seed: configuration.seed ^ 0x5EED_0000_1EAF_0001 &+ UInt64(bitPattern: day))
        let dayStart = day * Self.millisecondsPerDay
        var records: [MT5DealRecord] = []
        for index in 0..<count {
            let login = Self.firstLogin + random.next(below: UInt64(configuration.logins))
            let symbol = Self.symbols[Int(random.next(below: UInt64(Self.symbols.count)))]
            let volumeExt = (1 + random.next(below: 100)) * 1_000_000
            let time = dayStart + Int64(random.next(below: UInt64(Self.millisecondsPerDay - 4 * 3_600_000)))
            let buy = random.next(below: 2) == 0
            let position = Self.ticketBase + UInt64(day) * 10_000_000 + 7_500_000 + UInt64(index)
            let open = Draft(login: login, time: time, action: buy ? 0 : 1, entry: 0, reason: 0, position: position, symbol: symbol, volumeExt: volumeExt,
                             price: Self.price(for: symbol, random: &random), profitCents: 0, storageCents: 0, commissionCents: -Int64(volumeExt / 1_000_000) * 3,
                             feeCents: 0, comment: "")
            // The reversal closes `volumeExt` and opens the opposite position with the other `volumeExt`.
            var reverse = open.closing(at: time + 1 + Int64(random.next(below: 3_600_000)), volumeExt: 2 * volumeExt,
                                       profitCents: Int64(random.next(below: 20_000)) - 10_000, reason: 0, entry: 2)
            reverse.volumeClosedExt = volumeExt
            var close = reverse.closing(at: reverse.time + 1 + Int64(random.next(below: 3_600_000)), volumeExt: volumeExt,
                                        profitCents: Int64(random.next(below: 20_000)) - 10_000, reason: 0, entry: 1)
            close.volumeClosedExt = volumeExt
            for (offset, draft) in [open, reverse, close].enumerated() {
                records.append(draft.record(ticket: Self.ticketBase + UInt64(day) * 10_000_000 + 7_000_000 + UInt64(index * 3 + offset)))
            }
        }
        return records
    }

    /// Deals with `from <= TimeMsc < to` after the `(TimeMsc, Deal)` position, at most `limit`, and whether more
    /// remain.
    public func deals(fromMilliseconds from: Int64, toMilliseconds to: Int64, after: (timeMsc: Int64, deal: UInt64)?, limit: Int, generation: Int = 0) -> (records: [MT5DealRecord], more: Bool) {
        var page: [MT5DealRecord] = []
        var day = Swift.max(from, range.lowerBound) / Self.millisecondsPerDay
        if let after { day = Swift.max(day, after.timeMsc / Self.millisecondsPerDay) }
        while day * Self.millisecondsPerDay < Swift.min(to, range.upperBound) {
            // A client pages through a day a page at a time: the day is generated once, not once per page, and
            // the page starts where a binary search of the day's (TimeMsc, Deal) order puts it.
            let sorted = dayCache.deals(onDay: day, generation: generation) { deals(onDay: day, generation: generation) }
            var index = sorted.keys.partitioningIndex { $0.time >= from }
            if let after {
                index = Swift.max(index, sorted.keys.partitioningIndex { ($0.time, $0.ticket) > (after.timeMsc, after.deal) })
            }
            while index < sorted.deals.count {
                guard sorted.keys[index].time < to else { return (page, false) }
                if page.count == limit { return (page, true) }
                page.append(sorted.deals[index])
                index += 1
            }
            day += 1
        }
        return (page, false)
    }

    static func cents(_ text: String?) -> Int64 {
        guard let text, let value = ExactDecimal(parsing: text), let scaled = value.multiplied(by: ExactDecimal(100)) else { return 0 }
        return Int64(scaled.description) ?? 0
    }

    static func price(for symbol: String, random: inout SplitMix64) -> String {
        let base: (whole: UInt64, digits: Int) = switch symbol {
        case let name where name.hasPrefix("XAU"): (2600, 2)
        case let name where name.contains("JPY"): (150, 3)
        case let name where name.contains("US30"): (42_000, 1)
        case let name where name.contains("BTC"): (95_000, 2)
        case let name where name.hasPrefix("AAPL"): (230, 2)
        default: (1, 5)
        }
        let scale = UInt64([1, 10, 100, 1000, 10_000, 100_000][base.digits])
        let units = base.whole * scale + random.next(below: scale * (base.whole > 1 ? 10 : 1) / 2 + 1)
        return ExactDecimal(Int128(units), scale: UInt8(base.digits))!.description
    }
}

