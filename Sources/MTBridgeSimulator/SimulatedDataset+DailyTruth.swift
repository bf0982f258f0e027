import MTSyncBridge
import MTSyncCore

/// The loyalty feed's ground truth: per login and server-time day, the closed volume and the deposits and
/// withdrawals, computed straight from the raw records this dataset serves (MT5 deals through `deals`, MT4
/// trade records through `trades`) at a generation.
///
/// It is deliberately its own code, not mtsync's normalizer: tests compare mtsync's daily feed against it, so a
/// rule both got wrong the same way would go unseen. The rules are the same ones written out again:
/// - MT5: a closing deal is a buy or sell (`Action` 0, 1) with `Entry` out, in/out or out-by (1, 2, 3) and a
///   `Reason` that is not technical; its `VolumeExt` (lots × 10^8) counts on the day of its `TimeMsc`, but for an
///   in/out (a reversal) only its `VolumeClosedExt`.
///   Deposits and withdrawals are balance deals (`Action` 2) by the sign of `Profit`; credit (3), bonus (6)
///   and the other money actions are neither.
/// - MT4: a closed trade is `cmd` buy or sell (0, 1) with `close_time` > 0; its `volume` (lots × 100) × 10^6
///   counts on the day of `close_time`. Deposits and withdrawals are balance records (`cmd` 6) by the sign of
///   `profit`; credit (7) is neither. Cancelled pending orders (2–5) carry no volume that was traded.
///
/// Every login is included, demo and unmapped ones too: a test applies the feed's filters itself. A (login,
/// day) appears only when it has a closing deal or a balance operation; a missing key means all zero.
extension SimulatedDataset {
    /// A login's server-time day. Ordered by day, then login (the order the CLI prints).
    public struct DailyTruthKey: Sendable, Hashable, Codable, Comparable {
        public var login: UInt64
        /// Days since 1970-01-01 in server time (the day the trade server's own clock shows).
        public var day: Int64

        public init(login: UInt64, day: Int64) {
            self.login = login
            self.day = day
        }

        /// The day as `YYYY-MM-DD`.
        public var date: String { SimulatedDataset.date(daysSince1970: day) }

        public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.day, lhs.login) < (rhs.day, rhs.login) }
    }

    /// What one login did on one server day, as the loyalty feed must report it.
    public struct DailyTruth: Sendable, Hashable, Codable {
        /// Sum of closed volume, lots × 10^8 (MT5 `VolumeExt`; MT4 `volume` × 10^6).
        public var closedVolumeExt: UInt64 = 0
        /// Sum of positive balance operations, in cents of the account's currency.
        public var depositCents: Int64 = 0
        /// Sum of negative balance operations, in cents, as a positive number.
        public var withdrawalCents: Int64 = 0
        /// Number of closing deals (MT5) or closed trades (MT4) counted in `closedVolumeExt`.
        public var closingDeals = 0

        public init(closedVolumeExt: UInt64 = 0, depositCents: Int64 = 0, withdrawalCents: Int64 = 0, closingDeals: Int = 0) {
            self.closedVolumeExt = closedVolumeExt
            self.depositCents = depositCents
            self.withdrawalCents = withdrawalCents
            self.closingDeals = closingDeals
        }
    }

    /// MT5 deal reasons that are position maintenance, not trading: ROLLOVER 6, VMARGIN 8, TRANSFER 12, SYNC 13,
    /// SPLIT 18, CORPORATE_ACTION 19 — the deals MetaQuotes' report example `CFastProfitDeals` (MT5 SDK,
    /// `Examples/Report/Capital.Standard.Reports/Cache`) leaves out of volumes. Server numbering, as the MT5 SDK
    /// header `Include/Bases/MT5APIDeal.h` gives `IMTDeal::EnDealReason` (../shared/research/metatrader-domain.md
    /// §1.2); the terminal's MQL5 `ENUM_DEAL_REASON` numbers them differently and does not apply. The same set as
    /// `MT5DealReason.technical` in MTSyncCore, written out again so the truth does not share mtsync's code.
    static let technicalDealReasons: Set<UInt32> = [6, 8, 12, 13, 18, 19]

    /// Per (login, server day), at `generation`, from the records the simulator serves.
    public func dailyTruth(generation: Int = 0) -> [DailyTruthKey: DailyTruth] {
        var truth: [DailyTruthKey: DailyTruth] = [:]
        switch configuration.platform {
        case .mt5:
            for day in configuration.firstDay..<configuration.firstDay + Int64(configuration.days) {
                for deal in deals(onDay: day, generation: generation) {
                    guard let login = deal.login.flatMap({ UInt64($0) }), let time = deal.timeMsc.flatMap({ Int64($0) }),
                          let action = deal.action.flatMap({ UInt32($0) }) else { continue }
                    let key = DailyTruthKey(login: login, day: Self.floorDiv(time, Self.millisecondsPerDay))
                    switch action {
                    case 0, 1:  // DEAL_BUY, DEAL_SELL
                        let entry = deal.entry.flatMap { UInt32($0) } ?? 0
                        let reason = deal.reason.flatMap { UInt32($0) } ?? 0
                        // ENTRY_OUT, ENTRY_INOUT, ENTRY_OUT_BY close (all or part of) a position; ENTRY_IN opens.
                        guard [1, 2, 3].contains(entry), !Self.technicalDealReasons.contains(reason) else { continue }
                        // A reversal (in/out) closed only its VolumeClosedExt; the rest opened the opposite position.
                        let closed = entry == 2 ? deal.volumeClosedExt : deal.volumeExt
                        truth[key, default: DailyTruth()].closedVolumeExt += closed.flatMap { UInt64($0) } ?? 0
                        truth[key, default: DailyTruth()].closingDeals += 1
                    case 2:  // DEAL_BALANCE: a deposit or, negative, a withdrawal
                        Self.addBalance(Self.exactCents(deal.profit), to: &truth[key, default: DailyTruth()])
                    default:
                        continue
                    }
                }
            }
        case .mt4:
            // `trades` serves the closed history day by day (`set: closed`) and the open trades (`set: open`,
            // `close_time` 0, never closed volume): only the closed history counts.
            for day in configuration.firstDay..<configuration.firstDay + Int64(configuration.days) {
                for trade in closedTrades(onDay: day, generation: generation) {
                    let record = trade.record
                    guard let login = record.login.flatMap({ UInt64($0) }), let closeTime = record.closeTime.flatMap({ Int64($0) }), closeTime > 0,
                          let cmd = record.cmd.flatMap({ Int($0) }) else { continue }
                    let key = DailyTruthKey(login: login, day: Self.floorDiv(closeTime, Self.secondsPerDay))
                    switch cmd {
                    case 0, 1:  // OP_BUY, OP_SELL
                        // MT4 volume is in hundredths of a lot.
                        truth[key, default: DailyTruth()].closedVolumeExt += (record.volume.flatMap { UInt64($0) } ?? 0) * 1_000_000
                        truth[key, default: DailyTruth()].closingDeals += 1
                    case 6:  // OP_BALANCE
                        Self.addBalance(Self.exactCents(record.profit), to: &truth[key, default: DailyTruth()])
                    default:
                        continue
                    }
                }
            }
        }
        return truth
    }

    private static func addBalance(_ cents: Int64, to truth: inout DailyTruth) {
        if cents > 0 { truth.depositCents += cents } else { truth.withdrawalCents += -cents }
    }

    private static func floorDiv(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
    }

    /// A money text (`-1234.5`, `20.00`, `7`) in cents, parsed here rather than through mtsync's decimal type.
    /// The simulator writes whole cents; anything finer is a bug in the dataset, not a rounding question.
    static func exactCents(_ text: String?) -> Int64 {
        guard var digits = text?.utf8[...], !digits.isEmpty else { return 0 }
        let negative = digits.first == UInt8(ascii: "-")
        if negative || digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        let point = digits.firstIndex(of: UInt8(ascii: "."))
        let whole = point.map { digits[..<$0] } ?? digits
        var fraction = point.map { Array(digits[digits.index(after: $0)...]) } ?? []
        while fraction.count > 2, fraction.last == UInt8(ascii: "0") { fraction.removeLast() }
        precondition(fraction.count <= 2, "simulated money \(text!) is finer than a cent")
        while fraction.count < 2 { fraction.append(UInt8(ascii: "0")) }
        var cents: Int64 = 0
        for byte in whole + fraction {
            precondition(byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"), "simulated money \(text!) is not a decimal")
            cents = cents * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return negative ? -cents : cents
    }

    /// `YYYY-MM-DD` of a day count since 1970-01-01 (proleptic Gregorian; Howard Hinnant's civil-from-days).
    public static func date(daysSince1970 days: Int64) -> String {
        CivilDate.text(daysSince1970: days)
    }
}
