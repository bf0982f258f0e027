import MTSyncCore
import Synchronization

/// The simulated server's end-of-day records (bridge-protocol §4.8) and account money (§4.4), computed from the
/// records it serves, in its own code (not mtsync's): every account has a record for every server day of the range.
///
/// Rules: MT5 trades (`Action` 0, 1) move the balance by profit + storage + commission + fee, credit deals
/// (`Action` 3) move the credit, every other money deal (balance, charge, correction, bonus, …) the balance;
/// MT4 closed trades (`cmd` 0, 1) move the balance by profit + storage + commission + taxes on their close day,
/// balance records (`cmd` 6) the balance, credit records (7) the credit. Equity is balance + credit (the
/// simulator's positions carry no floating profit at a day's close). `deposits` and `withdrawals` are the day's
/// balance operations (MT5 `Action` 2, MT4 `cmd` 6) by sign. With `lateAccounts`, a late login's records, like
/// its account, are served only from generation 1.
extension SimulatedDataset {
    /// One account's state at a server day's close, in cents of its currency.
    public struct DailyState: Sendable, Hashable {
        public var balanceCents: Int64 = 0
        public var creditCents: Int64 = 0
        public var depositCents: Int64 = 0
        public var withdrawalCents: Int64 = 0
        public var previousBalanceCents: Int64 = 0

        public init() {}
    }

    /// Every account's state at the close of every server day of the range, at `generation`, by (day, login).
    public func dailyStates(generation: Int = 0) -> [DailyTruthKey: DailyState] {
        dailyCache.states(generation: generation) { computeDailyStates(generation: generation) }
    }

    private func computeDailyStates(generation: Int) -> [DailyTruthKey: DailyState] {
        var running: [UInt64: DailyState] = [:]
        var result: [DailyTruthKey: DailyState] = [:]
        for day in configuration.firstDay..<configuration.firstDay + Int64(configuration.days) {
            for login in accounts.map(\.login) {
                var state = running[login, default: DailyState()]
                state.previousBalanceCents = state.balanceCents
                state.depositCents = 0
                state.withdrawalCents = 0
                running[login] = state
            }
            switch configuration.platform {
            case .mt5:
                for deal in deals(onDay: day, generation: generation) {
                    guard let login = deal.login.flatMap({ UInt64($0) }), running[login] != nil, let action = deal.action.flatMap({ UInt32($0) }) else { continue }
                    let profit = Self.exactCents(deal.profit)
                    switch action {
                    case 0, 1:
                        running[login]!.balanceCents += profit + Self.exactCents(deal.storage) + Self.exactCents(deal.commission) + Self.exactCents(deal.fee)
                    case 3:
                        running[login]!.creditCents += profit
                    default:
                        running[login]!.balanceCents += profit
                        if action == 2 { Self.count(profit, into: &running[login]!) }
                    }
                }
            case .mt4:
                for trade in closedTrades(onDay: day, generation: generation) {
                    let record = trade.record
                    guard let login = record.login.flatMap({ UInt64($0) }), running[login] != nil, let cmd = record.cmd.flatMap({ Int($0) }) else { continue }
                    let profit = Self.exactCents(record.profit)
                    switch cmd {
                    case 0, 1:
                        running[login]!.balanceCents += profit + Self.exactCents(record.storage) + Self.exactCents(record.commission) + Self.exactCents(record.taxes)
                    case 6:
                        running[login]!.balanceCents += profit
                        Self.count(profit, into: &running[login]!)
                    case 7:
                        running[login]!.creditCents += profit
                    default:
                        continue
                    }
                }
            }
            for (login, state) in running { result[DailyTruthKey(login: login, day: day)] = state }
        }
        return result
    }

    private static func count(_ cents: Int64, into state: inout DailyState) {
        if cents > 0 { state.depositCents += cents } else { state.withdrawalCents += -cents }
    }

    /// What a tier snapshot needs of one account's server day besides its state and the loyalty feed's daily truth:
    /// the volume of its positions open at the close (lots × 10^8) and how many trade facts the day has (MT5 buy and
    /// sell deals that are not technical; MT4 a trade's open on its open day and its close on its close day).
    public struct PositionTruth: Sendable, Hashable {
        public var openVolumeExt: Int64 = 0
        public var trades = 0

        public init() {}
    }

    /// Per (login, server day) at `generation`, replayed from the records served, position by position: MT5 `in`
    /// opens its volume, `out` and `out_by` close their `VolumeClosedExt` (else their volume), `in/out` leaves the
    /// reversed position with its volume less what it closed; MT4 a trade is open from `open_time` until `close_time`.
    public func positionTruth(generation: Int = 0) -> [DailyTruthKey: PositionTruth] {
        var result: [DailyTruthKey: PositionTruth] = [:]
        let days = configuration.firstDay..<configuration.firstDay + Int64(configuration.days)
        switch configuration.platform {
        case .mt5:
            var positions: [UInt64: (login: UInt64, volume: Int64)] = [:]
            for day in days {
                for deal in deals(onDay: day, generation: generation) {
                    guard let action = deal.action.flatMap({ UInt32($0) }), action <= 1, let login = deal.login.flatMap({ UInt64($0) }),
                          let position = deal.positionID.flatMap({ UInt64($0) }), let volume = deal.volumeExt.flatMap({ Int64($0) }) else { continue }
                    let closed = deal.volumeClosedExt.flatMap { Int64($0) } ?? volume
                    // A position counts from its first in or inout deal: one opened before the history is not known.
                    // The replayed volume is kept as is and read as at least zero (what the store computes).
                    let current = positions[position]?.volume
                    switch deal.entry.flatMap({ UInt32($0) }) ?? 0 {
                    case 0: positions[position] = (login, (current ?? 0) + volume)
                    case 2: positions[position] = (login, volume - closed)
                    default: if let current { positions[position] = (login, current - closed) }
                    }
                    if !Self.technicalDealReasons.contains(deal.reason.flatMap { UInt32($0) } ?? 0) {
                        result[DailyTruthKey(login: login, day: day), default: PositionTruth()].trades += 1
                    }
                }
                var open: [UInt64: Int64] = [:]
                for (login, volume) in positions.values { open[login, default: 0] += max(0, volume) }
                for (login, volume) in open { result[DailyTruthKey(login: login, day: day), default: PositionTruth()].openVolumeExt = volume }
            }
        case .mt4:
            var trades: [(login: UInt64, open: Int64, close: Int64, volume: Int64)] = []
            for day in days {
                for trade in closedTrades(onDay: day, generation: generation) {
                    let record = trade.record
                    guard let cmd = record.cmd.flatMap({ Int($0) }), cmd <= 1, let login = record.login.flatMap({ UInt64($0) }),
                          let open = record.openTime.flatMap({ Int64($0) }), let volume = record.volume.flatMap({ Int64($0) }) else { continue }
                    trades.append((login, open, trade.closeTime, volume * 1_000_000))
                }
            }
            for trade in openTrades() {
                guard let login = trade.record.login.flatMap({ UInt64($0) }), let open = trade.record.openTime.flatMap({ Int64($0) }),
                      let volume = trade.record.volume.flatMap({ Int64($0) }) else { continue }
                trades.append((login, open, 0, volume * 1_000_000))
            }
            let secondsPerDay = Self.millisecondsPerDay / 1000
            for trade in trades {
                result[DailyTruthKey(login: trade.login, day: trade.open / secondsPerDay), default: PositionTruth()].trades += 1
                if trade.close > 0 { result[DailyTruthKey(login: trade.login, day: trade.close / secondsPerDay), default: PositionTruth()].trades += 1 }
                for day in days where trade.open < (day + 1) * secondsPerDay && (trade.close == 0 || trade.close >= (day + 1) * secondsPerDay) {
                    result[DailyTruthKey(login: trade.login, day: day), default: PositionTruth()].openVolumeExt += trade.volume
                }
            }
        }
        return result
    }

    /// The records the `daily` method serves at `generation`: every account's, every day, by (day, login).
    public func dailyRecords(generation: Int = 0) -> [RawDailyRecord] {
        let served = Set(accountRecords(generation: generation).compactMap { $0.login.flatMap { UInt64($0) } })
        let currencies = Dictionary(uniqueKeysWithValues: accounts.map { ($0.login, $0.currency) })
        return dailyStates(generation: generation).filter { served.contains($0.key.login) }.sorted { $0.key < $1.key }.map { key, state in
            func money(_ cents: Int64) -> String { ExactDecimal(Int128(cents), scale: 2)!.description }
            var record = RawDailyRecord()
            record.login = String(key.login)
            record.day = key.date
            record.timeMilliseconds = String((key.day + 1) * Self.millisecondsPerDay)
            record.currency = currencies[key.login]
            record.balance = money(state.balanceCents)
            record.credit = money(state.creditCents)
            record.equity = money(state.balanceCents + state.creditCents)
            record.profit = "0"
            record.balancePrevious = money(state.previousBalanceCents)
            record.deposits = money(state.depositCents)
            record.withdrawals = money(state.withdrawalCents)
            return record
        }
    }

    /// The records of the server days starting in `[from, to)` after `after` in (day, login) order, at most `limit`.
    public func dailyRecords(
        fromMilliseconds from: Int64, toMilliseconds to: Int64, after: (day: String, login: UInt64)?, limit: Int, generation: Int = 0
    ) -> (records: [RawDailyRecord], more: Bool) {
        let firstDay = (from + Self.millisecondsPerDay - 1) / Self.millisecondsPerDay, endDay = (to + Self.millisecondsPerDay - 1) / Self.millisecondsPerDay
        let remaining = dailyRecords(generation: generation).filter { record in
            guard let day = record.day.flatMap({ CivilDate.days(parsing: $0) }), day >= firstDay, day < endDay else { return false }
            guard let after else { return true }
            return (record.day!, UInt64(record.login!)!) > (after.day, after.login)
        }
        return (Array(remaining.prefix(limit)), remaining.count > limit)
    }

    /// An account's money at the end of the range, at `generation` (what the accounts stream sends).
    func money(of login: UInt64, generation: Int) -> (balance: String, credit: String, equity: String)? {
        let lastDay = configuration.firstDay + Int64(configuration.days) - 1
        guard let state = dailyStates(generation: generation)[DailyTruthKey(login: login, day: lastDay)] else { return nil }
        func money(_ cents: Int64) -> String { ExactDecimal(Int128(cents), scale: 2)!.description }
        return (money(state.balanceCents), money(state.creditCents), money(state.balanceCents + state.creditCents))
    }
}

/// The daily states of the generations asked for, computed once each: the `daily` method pages through them.
final class DailyCache: Sendable {
    private let states = Mutex<[Int: [SimulatedDataset.DailyTruthKey: SimulatedDataset.DailyState]]>([:])

    func states(generation: Int, compute: () -> [SimulatedDataset.DailyTruthKey: SimulatedDataset.DailyState]) -> [SimulatedDataset.DailyTruthKey: SimulatedDataset.DailyState] {
        if let cached = states.withLock({ $0[generation] }) { return cached }
        let computed = compute()
        states.withLock { $0[generation] = computed }
        return computed
    }
}
