// MetaTrader's server-side enumerations, as the Manager API and Web API number them.
//
// Sources (checked for this file):
// - MT5 `IMTDeal::EnDealAction`, `EnDealEntry`, `EnDealReason`: MetaTrader 5 SDK header
//   `Include/Bases/MT5APIDeal.h` (MetaQuotes, as mirrored publicly, e.g. github.com/ftxe/MetaTrader5SDK), and the
//   same values in MetaQuotes' Manager API package for Python (`mt5manager` 5.0.6231 on PyPI) and in MetaQuotes'
//   MT5 Web API PHP sample (`MTEnDealReason`: CLIENT 0 … SPLIT 18). Summarized with citations in
//   ../shared/research/metatrader-domain.md §1.2.
// - Technical reasons: the SDK's report example `CFastProfitDeals` excludes ROLLOVER, VMARGIN, TRANSFER, SYNC,
//   SPLIT and CORPORATE_ACTION deals from position prices and volumes.
// - MT4 `TradeRecord.cmd` (OP_*) and `reason` (TR_REASON_*): MetaTrader 4 Manager API header
//   `MT4ManagerAPI.h` (research notes §2.2).
//
// The terminal's numbering (MQL5 `ENUM_DEAL_REASON`, the MetaTrader5 Python package) differs for reasons: it is
// NOT used here. MetaQuotes keeps adding codes, so every enum keeps unknown raw values instead of failing.

/// MT5 deal action (`IMTDeal::EnDealAction`), server numbering 0–20.
public enum MT5DealAction: Sendable, Hashable {
    case buy                     // 0 DEAL_BUY
    case sell                    // 1 DEAL_SELL
    case balance                 // 2 DEAL_BALANCE: deposit or withdrawal
    case credit                  // 3 DEAL_CREDIT
    case charge                  // 4 DEAL_CHARGE: additional charge
    case correction              // 5 DEAL_CORRECTION
    case bonus                   // 6 DEAL_BONUS
    case commission              // 7 DEAL_COMMISSION
    case commissionDaily         // 8 DEAL_COMMISSION_DAILY
    case commissionMonthly       // 9 DEAL_COMMISSION_MONTHLY
    case agentDaily              // 10 DEAL_AGENT_DAILY
    case agentMonthly            // 11 DEAL_AGENT_MONTHLY
    case interestRate            // 12 DEAL_INTERESTRATE
    case buyCanceled             // 13 DEAL_BUY_CANCELED
    case sellCanceled            // 14 DEAL_SELL_CANCELED
    case dividend                // 15 DEAL_DIVIDEND
    case dividendFranked         // 16 DEAL_DIVIDEND_FRANKED
    case tax                     // 17 DEAL_TAX
    case agent                   // 18 DEAL_AGENT: instant agent commission
    case stopOutCompensation     // 19 DEAL_SO_COMPENSATION: negative balance written off after a stop-out
    case stopOutCompensationCredit // 20 DEAL_SO_COMPENSATION_CREDIT
    case unknown(UInt32)

    public init(rawValue: UInt32) {
        let known: [MT5DealAction] = [
            .buy, .sell, .balance, .credit, .charge, .correction, .bonus, .commission, .commissionDaily,
            .commissionMonthly, .agentDaily, .agentMonthly, .interestRate, .buyCanceled, .sellCanceled, .dividend,
            .dividendFranked, .tax, .agent, .stopOutCompensation, .stopOutCompensationCredit,
        ]
        self = rawValue < known.count ? known[Int(rawValue)] : .unknown(rawValue)
    }

    /// The fact kind this action produces. Agent commissions count as commission; a stop-out compensation is a
    /// correction of the balance, its credit twin a credit.
    public var kind: FactKind {
        switch self {
        case .buy, .sell: .trade
        case .balance: .balance
        case .credit, .stopOutCompensationCredit: .credit
        case .charge: .charge
        case .correction, .stopOutCompensation: .correction
        case .bonus: .bonus
        case .commission, .commissionDaily, .commissionMonthly, .agentDaily, .agentMonthly, .agent: .commission
        case .interestRate: .interest
        case .buyCanceled, .sellCanceled: .canceled
        case .dividend, .dividendFranked: .dividend
        case .tax: .tax
        case .unknown: .other
        }
    }

    public var side: Side? {
        switch self {
        case .buy, .buyCanceled: .buy
        case .sell, .sellCanceled: .sell
        default: nil
        }
    }
}

/// MT5 deal entry (`IMTDeal::EnDealEntry`).
public enum MT5DealEntry: UInt32, Sendable, Hashable {
    case `in` = 0     // ENTRY_IN: opens or adds to a position
    case out = 1      // ENTRY_OUT: closes or reduces
    case inOut = 2    // ENTRY_INOUT: reverses
    case outBy = 3    // ENTRY_OUT_BY: closed by an opposite position

    public var entry: Entry {
        switch self {
        case .in: .in
        case .out: .out
        case .inOut: .inout
        case .outBy: .outBy
        }
    }
}

/// MT5 deal reason (`IMTDeal::EnDealReason`), server numbering 0–21.
public enum MT5DealReason {
    public static let client: UInt32 = 0
    public static let expert: UInt32 = 1
    public static let dealer: UInt32 = 2
    public static let stopLoss: UInt32 = 3
    public static let takeProfit: UInt32 = 4
    public static let stopOut: UInt32 = 5
    public static let rollover: UInt32 = 6
    public static let externalClient: UInt32 = 7
    public static let variationMargin: UInt32 = 8
    public static let gateway: UInt32 = 9
    public static let signal: UInt32 = 10
    public static let settlement: UInt32 = 11
    public static let transfer: UInt32 = 12
    public static let sync: UInt32 = 13
    public static let externalService: UInt32 = 14
    public static let migration: UInt32 = 15
    public static let mobile: UInt32 = 16
    public static let web: UInt32 = 17
    public static let split: UInt32 = 18
    public static let corporateAction: UInt32 = 19
    public static let ultency: UInt32 = 20
    public static let coverage: UInt32 = 21

    /// Reasons MetaQuotes' own reports leave out of traded volume (`CFastProfitDeals` in the SDK's report
    /// examples): position maintenance, not trading. Facts with these reasons are marked `technical`.
    public static let technical: Set<UInt32> = [rollover, variationMargin, transfer, sync, split, corporateAction]
}

/// MT4 trade command (`TradeRecord.cmd`, OP_*).
public enum MT4Command: Sendable, Hashable {
    case buy            // 0 OP_BUY
    case sell           // 1 OP_SELL
    case buyLimit       // 2 OP_BUY_LIMIT
    case sellLimit      // 3 OP_SELL_LIMIT
    case buyStop        // 4 OP_BUY_STOP
    case sellStop       // 5 OP_SELL_STOP
    case balance        // 6 OP_BALANCE
    case credit         // 7 OP_CREDIT
    case unknown(Int64)

    public init(rawValue: Int64) {
        switch rawValue {
        case 0: self = .buy
        case 1: self = .sell
        case 2: self = .buyLimit
        case 3: self = .sellLimit
        case 4: self = .buyStop
        case 5: self = .sellStop
        case 6: self = .balance
        case 7: self = .credit
        default: self = .unknown(rawValue)
        }
    }

    public var isPendingOrder: Bool {
        switch self {
        case .buyLimit, .sellLimit, .buyStop, .sellStop: true
        default: false
        }
    }
}
