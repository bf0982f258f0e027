import Crypto
import MTSyncCore

/// One broker customer's tier snapshot of one trading day (docs/ingest.md, "Tier snapshots"): what the loyalty
/// platform upserts by `user_id` + `date` to place the customer in a tier. Money in the reporting currency (cent
/// accounts scaled), lots in standard lots, over the customer's real accounts on every server.
public struct TierSnapshotRow: PlatformRow {
    /// Where the closing balances come from.
    public enum BalanceSource: String, Sendable, Hashable {
        /// Every real account's end-of-day record from the trade server (the bridge's `daily` stream).
        case daily
        /// At least one account's money as the accounts stream sent it last before the close.
        case polled
        /// At least one real account has no state for the day: balance, credit and equity are left out (never a
        /// partial sum a tier could be decided on).
        case none
    }

    public var customerID: String
    public var date: String
    public var balance: ExactDecimal?
    public var credit: ExactDecimal?
    public var equity: ExactDecimal?
    /// Deposits less withdrawals, from the start of the synced history to the day's close.
    public var netDeposits: ExactDecimal
    public var closedLots: ExactDecimal
    /// Closed lots of the 30 trading days ending with this one.
    public var closedLots30d: ExactDecimal
    /// Volume of the positions open at the close.
    public var openLots: ExactDecimal
    /// Real accounts that traded in the 30 trading days ending with this one.
    public var activeAccounts: Int
    public var balanceSource: BalanceSource
    /// `server:login` of every real account the row covers, sorted (kept, not sent).
    public var accounts: [String]

    public init(
        customerID: String, date: String, balance: ExactDecimal?, credit: ExactDecimal?, equity: ExactDecimal?, netDeposits: ExactDecimal,
        closedLots: ExactDecimal, closedLots30d: ExactDecimal, openLots: ExactDecimal, activeAccounts: Int, balanceSource: BalanceSource, accounts: [String]
    ) {
        self.customerID = customerID
        self.date = date
        self.balance = balance
        self.credit = credit
        self.equity = equity
        self.netDeposits = netDeposits
        self.closedLots = closedLots
        self.closedLots30d = closedLots30d
        self.openLots = openLots
        self.activeAccounts = activeAccounts
        self.balanceSource = balanceSource
        self.accounts = accounts
    }

    public static let sentColumns = [
        "user_id", "date", "balance", "credit", "equity", "net_deposits", "closed_lots", "closed_lots_30d", "open_lots", "active_accounts", "balance_source",
    ]
    public static let feedName = "tier-snapshots"

    /// Sent values in `sentColumns` order; nil for a figure left out.
    var sentValues: [(name: String, value: String?, quoted: Bool)] {
        [
            ("user_id", customerID, true), ("date", date, true),
            ("balance", balance.map(DailyFeedRow.money), false), ("credit", credit.map(DailyFeedRow.money), false),
            ("equity", equity.map(DailyFeedRow.money), false), ("net_deposits", DailyFeedRow.money(netDeposits), false),
            ("closed_lots", closedLots.description, false), ("closed_lots_30d", closedLots30d.description, false),
            ("open_lots", openLots.description, false), ("active_accounts", String(activeAccounts), false),
            ("balance_source", balanceSource.rawValue, true),
        ]
    }

    /// A figure left out is left out of the object (docs/ingest.md: no nulls).
    public var rowJSON: String {
        "{" + sentValues.compactMap { name, value, quoted in
            value.map { "\"\(name)\":" + (quoted ? JSONText.quoted($0) : $0) }
        }.joined(separator: ",") + "}"
    }

    public var csvFields: [String] { sentValues.map { $0.value ?? "" } }

    public var sentHash: String {
        Hex.encode(SHA256.hash(data: Array(csvFields.joined(separator: "\n").utf8)))
    }

    public var figuresJSON: String {
        String(rowJSON.dropLast()) + ",\"accounts\":[" + accounts.map { JSONText.quoted($0) }.joined(separator: ",") + "]}"
    }
}

/// Decides tier snapshot rows from each account's daily figures and closing states (pure: the store reads them,
/// `TierSnapshotBuilder` records what this decides).
public enum TierSnapshotCalculator {
    /// One account of the customer: its policy decides, per day, whether it is real.
    public struct Account: Sendable {
        public var key: String
        public var login: UInt64
        public var group: String?
        public var currency: String?
        public var policy: AccountPolicy
        public var history: AccountHistory?
        /// The facts' figures per trading day (days since 1970), every day up to the last one computed.
        public var figures: [Int64: DayFigures]
        /// The closing state per trading day.
        public var states: [Int64: State]

        public init(key: String, login: UInt64, group: String?, currency: String?, policy: AccountPolicy, history: AccountHistory?, figures: [Int64: DayFigures], states: [Int64: State]) {
            self.key = key
            self.login = login
            self.group = group
            self.currency = currency
            self.policy = policy
            self.history = history
            self.figures = figures
            self.states = states
        }
    }

    public struct DayFigures: Sendable, Hashable {
        public var closedLots: ExactDecimal
        public var unknownReversals: Int
        public var trades: Int
        public var openDelta: ExactDecimal
        public var deposits: ExactDecimal
        public var withdrawals: ExactDecimal

        public init(closedLots: ExactDecimal, unknownReversals: Int, trades: Int, openDelta: ExactDecimal, deposits: ExactDecimal, withdrawals: ExactDecimal) {
            self.closedLots = closedLots
            self.unknownReversals = unknownReversals
            self.trades = trades
            self.openDelta = openDelta
            self.deposits = deposits
            self.withdrawals = withdrawals
        }
    }

    public struct State: Sendable, Hashable {
        public var source: TierSnapshotRow.BalanceSource
        public var currency: String?
        public var balance: ExactDecimal?
        public var credit: ExactDecimal?
        public var equity: ExactDecimal?

        public init(source: TierSnapshotRow.BalanceSource, currency: String?, balance: ExactDecimal?, credit: ExactDecimal?, equity: ExactDecimal?) {
            self.source = source
            self.currency = currency
            self.balance = balance
            self.credit = credit
            self.equity = equity
        }
    }

    /// The days of the trailing window of `closed_lots_30d` and `active_accounts`, the day itself included.
    public static let windowDays: Int64 = 30

    /// The rows of `customerID`'s trading days `fromDay...toDay` (days since 1970) on which any account has figures or
    /// a state; `close(day)` is the day's closing instant (UTC ms), at which an account's group decides whether it is
    /// real. The first day that cannot be decided holds the customer with the reason (its later days depend on it).
    public static func rows(
        customerID: String, accounts: [Account], fromDay: Int64, toDay: Int64, rules: DailyFeedRules, close: (Int64) -> Int64?
    ) -> Result<[TierSnapshotRow], DailyFeedHold> {
        guard fromDay <= toDay else { return .success([]) }
        // Running totals per account before `fromDay`: deposits less withdrawals and the open volume, from all history.
        var netDeposits: [String: ExactDecimal] = [:], open: [String: ExactDecimal] = [:]
        for account in accounts {
            var net = ExactDecimal.zero, lots = ExactDecimal.zero
            for (day, figures) in account.figures where day < fromDay {
                guard let n = figures.deposits.subtracting(figures.withdrawals).flatMap({ net.adding($0) }), let l = lots.adding(figures.openDelta) else {
                    return .failure(DailyFeedHold(reason: "the history of login \(account.key) leaves the exact decimal range; check its deals"))
                }
                net = n
                lots = l
            }
            netDeposits[account.key] = net
            open[account.key] = lots
        }
        // The customer's history starts with its first state or its first closing, deposit or withdrawal: an MT4
        // trade opened before the synced history (its open leg is a fact of that earlier day) makes no row there.
        let starts = accounts.flatMap { account in
            Array(account.states.keys) + account.figures.filter { !$0.value.closedLots.isZero || !$0.value.deposits.isZero || !$0.value.withdrawals.isZero }.map(\.key)
        }
        guard let historyStart = starts.min() else { return .success([]) }
        // An account counts from its first closing state or fact on: a second account opened later does not leave
        // the customer's earlier days without balances. After that, a day without its state is a gap (see `none`).
        let accountStarts = accounts.reduce(into: [String: Int64]()) { starts, account in
            if let first = (Array(account.states.keys) + Array(account.figures.keys)).min() { starts[account.key] = first }
        }
        var rows: [TierSnapshotRow] = []
        for day in fromDay...toDay {
            let active = day < historyStart ? [] : accounts.filter { $0.figures[day] != nil || $0.states[day] != nil }
            // The running totals move with every account's day, counted or not.
            for account in accounts {
                guard let figures = account.figures[day] else { continue }
                guard let net = figures.deposits.subtracting(figures.withdrawals).flatMap({ netDeposits[account.key]?.adding($0) }),
                      let lots = open[account.key]?.adding(figures.openDelta)
                else {
                    return .failure(DailyFeedHold(reason: "the history of login \(account.key) leaves the exact decimal range; check its deals"))
                }
                netDeposits[account.key] = net
                open[account.key] = lots
            }
            guard !active.isEmpty else { continue }
            let date = CivilDate.text(daysSince1970: day)
            guard let closeInstant = close(day) else {
                return .failure(DailyFeedHold(reason: "the trading day's zone is not known to this build"))
            }
            var row = TierSnapshotRow(
                customerID: customerID, date: date, balance: .zero, credit: .zero, equity: .zero, netDeposits: .zero, closedLots: .zero,
                closedLots30d: .zero, openLots: .zero, activeAccounts: 0, balanceSource: .daily, accounts: [])
            for account in accounts.sorted(by: { $0.key < $1.key }) where accountStarts[account.key].map({ $0 <= day }) == true {
                switch account.policy.disposition(login: account.login, atUTCMilliseconds: closeInstant, history: account.history) {
                case .pending(let reason):
                    return .failure(DailyFeedHold(reason: "login \(account.key) of customer \(customerID) is not decided yet (\(reason.rawValue)) on \(date): its snapshot waits"))
                case .decided(_, excluded: .some):
                    continue  // not a real account that day (a demo group, an excluded login)
                case .decided(let state, excluded: nil):
                    let currency = account.states[day]?.currency ?? state?.currency ?? account.currency
                    let factors: (lots: ExactDecimal, money: ExactDecimal)
                    switch rules.factors(account: account.key, group: state?.group ?? account.group, currency: currency) {
                    case .success(let found): factors = found
                    case .failure(let hold): return .failure(hold)
                    }
                    var closed30 = ExactDecimal.zero, traded = false
                    for windowDay in (day - windowDays + 1)...day {
                        guard let figures = account.figures[windowDay] else { continue }
                        guard figures.unknownReversals == 0 else {
                            return .failure(DailyFeedHold(reason: "login \(account.key) has \(figures.unknownReversals) reversal deal(s) (entry inout) without VolumeClosedExt or VolumeClosed on \(CivilDate.text(daysSince1970: windowDay)): its closed volume is not guessed; the bridge should send VolumeClosedExt (bridge-protocol §4.2)"))
                        }
                        guard let sum = closed30.adding(figures.closedLots) else { return .failure(Self.overflow(account.key)) }
                        closed30 = sum
                        traded = traded || figures.trades > 0
                    }
                    let today = account.figures[day]
                    guard let closed = (today?.closedLots ?? .zero).multiplied(by: factors.lots).flatMap({ row.closedLots.adding($0) }),
                          let window = closed30.multiplied(by: factors.lots).flatMap({ row.closedLots30d.adding($0) }),
                          let openLots = open[account.key]?.multiplied(by: factors.lots).flatMap({ row.openLots.adding($0) }),
                          let net = netDeposits[account.key]?.multiplied(by: factors.money).flatMap({ row.netDeposits.adding($0) })
                    else { return .failure(Self.overflow(account.key)) }
                    row.closedLots = closed
                    row.closedLots30d = window
                    row.openLots = openLots
                    row.netDeposits = net
                    if traded { row.activeAccounts += 1 }
                    row.accounts.append(account.key)
                    if let state = account.states[day], let balance = state.balance, let credit = state.credit, let equity = state.equity {
                        if state.source == .polled, row.balanceSource == .daily { row.balanceSource = .polled }
                        guard let b = balance.multiplied(by: factors.money).flatMap({ row.balance?.adding($0) }),
                              let c = credit.multiplied(by: factors.money).flatMap({ row.credit?.adding($0) }),
                              let e = equity.multiplied(by: factors.money).flatMap({ row.equity?.adding($0) })
                        else {
                            if row.balanceSource != .none { return .failure(Self.overflow(account.key)) }
                            continue
                        }
                        if row.balanceSource != .none { (row.balance, row.credit, row.equity) = (b, c, e) }
                    } else {
                        row.balanceSource = .none
                        (row.balance, row.credit, row.equity) = (nil, nil, nil)
                    }
                }
            }
            guard !row.accounts.isEmpty else { continue }
            row.balance = row.balance?.rounded(scale: DailyFeedRules.moneyScale)
            row.credit = row.credit?.rounded(scale: DailyFeedRules.moneyScale)
            row.equity = row.equity?.rounded(scale: DailyFeedRules.moneyScale)
            row.netDeposits = row.netDeposits.rounded(scale: DailyFeedRules.moneyScale)
            row.closedLots = row.closedLots.rounded(scale: DailyFeedRules.lotScale)
            row.closedLots30d = row.closedLots30d.rounded(scale: DailyFeedRules.lotScale)
            row.openLots = row.openLots.rounded(scale: DailyFeedRules.lotScale)
            rows.append(row)
        }
        return .success(rows)
    }

    static func overflow(_ key: String) -> DailyFeedHold {
        DailyFeedHold(reason: "the figures of login \(key) leave the exact decimal range; check its deals")
    }
}
