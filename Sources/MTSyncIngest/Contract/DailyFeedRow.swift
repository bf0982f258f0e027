import Crypto
import MTSyncCore

/// How the loyalty platform's daily feed turns logins' figures into one row per customer and day
/// (docs/ingest.md, "The daily feed"). Pure values, from `feed:` in the configuration.
public struct DailyFeedRules: Sendable, Equatable {
    /// The currency every money figure is sent in, e.g. `USD`.
    public var reportingCurrency: String
    /// MetaTrader group masks of cent accounts (`*` wildcard, `!` excludes, case ignored), e.g. `["*cent*"]`.
    public var centGroups: [String]
    /// What one cent-account unit (a lot, a currency unit) is worth in standard lots and base-currency units.
    public var centFactor: ExactDecimal
    /// The base currency of each cent currency code (`USC` → `USD`). A cent account's money, once × `centFactor`,
    /// is in that base currency, which then needs to be the reporting currency or have a rate like any other.
    public var centCurrencies: [String: String]
    /// Units of the reporting currency per unit of another account currency: the configured rate source.
    public var rates: [String: ExactDecimal]

    public init(
        reportingCurrency: String = "USD", centGroups: [String] = [], centFactor: ExactDecimal = ExactDecimal(1, scale: 2)!,
        centCurrencies: [String: String] = CentCurrencies.standard, rates: [String: ExactDecimal] = [:]
    ) {
        self.reportingCurrency = reportingCurrency.uppercased()
        self.centGroups = centGroups
        self.centFactor = centFactor
        self.centCurrencies = Dictionary(centCurrencies.map { ($0.key.uppercased(), $0.value.uppercased()) }, uniquingKeysWith: { _, last in last })
        self.rates = Dictionary(uniqueKeysWithValues: rates.map { ($0.key.uppercased(), $0.value) })
    }

    public func isCent(group: String?) -> Bool {
        guard !centGroups.isEmpty, let group else { return false }
        return AccountFilter(groupMasks: centGroups).verdict(login: 0, group: group) == .pass
    }

    /// What an account's lots and money are multiplied by to be standard lots and reporting-currency money: the
    /// cent factor for a cent account, then the rate of its money's currency (a cent code's base currency). Never
    /// summed raw: an account with no currency, or one without a rate, is a hold with the reason.
    public func factors(account loginKey: String, group: String?, currency accountCurrency: String?) -> Result<(lots: ExactDecimal, money: ExactDecimal), DailyFeedHold> {
        let isCent = isCent(group: group)
        guard let accountCurrency = accountCurrency?.uppercased(), !accountCurrency.isEmpty else {
            return .failure(DailyFeedHold(reason: "login \(loginKey) has no currency yet (the accounts stream has not sent it); its customer's day waits"))
        }
        let currency = isCent ? centCurrencies[accountCurrency] ?? accountCurrency : accountCurrency
        let rate: ExactDecimal
        if currency == reportingCurrency {
            rate = ExactDecimal(1)
        } else if let configured = rates[currency] {
            rate = configured
        } else {
            let what = isCent && currency != accountCurrency ? "a cent account in \(accountCurrency) (\(currency) cents)" : "in \(currency)"
            return .failure(DailyFeedHold(reason: "login \(loginKey) is \(what), not \(reportingCurrency), and feed.rates has no \(currency) rate; add one (units of \(reportingCurrency) per \(currency)) to release the day"))
        }
        guard let moneyFactor = isCent ? centFactor.multiplied(by: rate) : rate else {
            return .failure(DailyFeedHold(reason: "the cent factor × the \(currency) rate leaves the exact decimal range; check feed.cent.factor and feed.rates"))
        }
        return .success((isCent ? centFactor : ExactDecimal(1), moneyFactor))
    }

    /// Decimal places of the money figures sent (cents); lots keep up to `lotScale`.
    public static let moneyScale: UInt8 = 2
    public static let lotScale: UInt8 = 8
}

/// One login's figures for one trading day, as the store sums them: in the account's own currency and lots.
public struct LoginDayFigures: Sendable, Hashable {
    public var server: String
    public var login: UInt64
    public var group: String?
    public var currency: String?
    /// Closed volume in lots (docs/ingest.md, `closed_lots`): MT5 `out` and `out_by` deals their closed volume
    /// (VolumeClosed, else the deal's volume), `inout` reversals their closed volume only; MT4 closed trades;
    /// technical deals excluded.
    public var closedLots: ExactDecimal
    public var closingTrades: Int
    /// Balance operations (and, when configured, credit or bonus) with a positive amount.
    public var deposits: ExactDecimal
    /// Balance operations with a negative amount, as a positive number.
    public var withdrawals: ExactDecimal
    /// Profit, swap, commission, fee and taxes of trades.
    public var tradingNet: ExactDecimal
    /// MT5 reversals (`inout`) without their closed volume: how much they closed is unknown, so the day is held.
    public var unknownReversals: Int

    public init(
        server: String, login: UInt64, group: String?, currency: String?, closedLots: ExactDecimal, closingTrades: Int, deposits: ExactDecimal,
        withdrawals: ExactDecimal, tradingNet: ExactDecimal, unknownReversals: Int = 0
    ) {
        self.unknownReversals = unknownReversals
        self.server = server
        self.login = login
        self.group = group
        self.currency = currency
        self.closedLots = closedLots
        self.closingTrades = closingTrades
        self.deposits = deposits
        self.withdrawals = withdrawals
        self.tradingNet = tradingNet
    }

    /// `server:login`, how a row names the logins it covers.
    public var loginKey: String { "\(server):\(login)" }
}

/// One customer's whole trading day across every login and server: what the platform upserts by
/// `user_id` + `date`. Money in the reporting currency, lots in standard lots.
public struct DailyFeedRow: PlatformRow {
    public var customerID: String
    /// `YYYY-MM-DD`, the trading day in the configured day zone.
    public var date: String
    public var closedLots: ExactDecimal
    public var depositTotal: ExactDecimal
    /// Kept in the store, not sent: ready for fields the platform adds.
    public var withdrawalTotal: ExactDecimal
    public var tradingNet: ExactDecimal
    public var closingTrades: Int
    /// `server:login` of every login the row sums, sorted.
    public var logins: [String]

    public init(customerID: String, date: String, closedLots: ExactDecimal, depositTotal: ExactDecimal, withdrawalTotal: ExactDecimal, tradingNet: ExactDecimal, closingTrades: Int, logins: [String]) {
        self.customerID = customerID
        self.date = date
        self.closedLots = closedLots
        self.depositTotal = depositTotal
        self.withdrawalTotal = withdrawalTotal
        self.tradingNet = tradingNet
        self.closingTrades = closingTrades
        self.logins = logins
    }

    /// The columns sent, in order: the platform's documented row.
    public static let sentColumns = ["user_id", "date", "deposit_total", "closed_lots"]
    public static let feedName = "daily-feed"

    /// One row as the platform documents it: snake_case, money with two decimals, lots exact; numbers as JSON
    /// numbers written from exact decimals (never through binary floating point).
    public var rowJSON: String {
        "{\"user_id\":\(JSONText.quoted(customerID)),\"date\":\"\(date)\",\"deposit_total\":\(DailyFeedRow.money(depositTotal)),\"closed_lots\":\(closedLots)}"
    }

    public var csvFields: [String] { [customerID, date, DailyFeedRow.money(depositTotal), closedLots.description] }

    /// Every figure as canonical text (the stored `figures`, and what `rowHash` covers).
    public var figuresJSON: String {
        var json = "{"
        json += "\"closed_lots\":\"\(closedLots)\",\"deposit_total\":\"\(DailyFeedRow.money(depositTotal))\""
        json += ",\"withdrawal_total\":\"\(DailyFeedRow.money(withdrawalTotal))\",\"trading_net\":\"\(DailyFeedRow.money(tradingNet))\""
        json += ",\"closing_trades\":\(closingTrades),\"logins\":[" + logins.map { JSONText.quoted($0) }.joined(separator: ",") + "]}"
        return json
    }

    /// SHA-256 of what is sent — the customer, the day and the sent figures: equal hashes mean nothing to send
    /// again. A change to a kept-only figure (withdrawals, trading net) updates the stored row without a resend.
    public var sentHash: String {
        let text = [customerID, date, DailyFeedRow.money(depositTotal), closedLots.description].joined(separator: "\n")
        return Hex.encode(SHA256.hash(data: Array(text.utf8)))
    }

    /// Money with exactly two decimals ("250.00"), as the platform's example writes it.
    public static func money(_ value: ExactDecimal) -> String {
        let text = value.description
        guard let dot = text.firstIndex(of: ".") else { return text + ".00" }
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        return decimals >= 2 ? text : text + String(repeating: "0", count: 2 - decimals)
    }
}

/// Why a customer's day cannot be sent yet: it waits, and `mtsync status` shows the reason.
public struct DailyFeedHold: Sendable, Hashable, Error, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { reason }
}

public enum DailyFeedCalculator {
    /// Sums every login of one customer for one trading day into the row the platform upserts.
    ///
    /// Why the whole customer, across servers: the platform keeps ONE row per `user_id` + `date` and replaces it on
    /// every upsert. A customer trading on an MT4 and an MT5 server would otherwise get two rows that overwrite each
    /// other, and only the last server's figures would count.
    ///
    /// Cent accounts (group matched by `rules.centGroups`): lots and money × `centFactor`; the money is then in the
    /// cent currency's base currency (`rules.centCurrencies`: USC → USD; a cent group labelled with a standard code
    /// keeps it). Every account's money currency must be the reporting currency or have a configured rate, or the
    /// day is held (never summed raw: a euro-cent account is not US cents). Sums are exact; money is rounded to
    /// cents (half away from zero) only once, at the end.
    public static func row(customerID: String, date: String, logins: [LoginDayFigures], rules: DailyFeedRules) -> Result<DailyFeedRow, DailyFeedHold> {
        var lots = ExactDecimal.zero, deposits = ExactDecimal.zero, withdrawals = ExactDecimal.zero, net = ExactDecimal.zero
        var closing = 0
        for figures in logins.sorted(by: { $0.loginKey < $1.loginKey }) {
            guard figures.unknownReversals == 0 else {
                return .failure(DailyFeedHold(reason: "login \(figures.loginKey) has \(figures.unknownReversals) reversal deal(s) (entry inout) without VolumeClosedExt or VolumeClosed on \(date): how much of the position they closed is unknown, so the day's closed_lots is not guessed; the bridge should send VolumeClosedExt (bridge-protocol §4.2)"))
            }
            let lotFactor: ExactDecimal, moneyFactor: ExactDecimal
            switch rules.factors(account: figures.loginKey, group: figures.group, currency: figures.currency) {
            case .success(let factors): (lotFactor, moneyFactor) = factors
            case .failure(let hold): return .failure(hold)
            }
            guard let l = figures.closedLots.multiplied(by: lotFactor).flatMap({ lots.adding($0) }),
                  let d = figures.deposits.multiplied(by: moneyFactor).flatMap({ deposits.adding($0) }),
                  let w = figures.withdrawals.multiplied(by: moneyFactor).flatMap({ withdrawals.adding($0) }),
                  let n = figures.tradingNet.multiplied(by: moneyFactor).flatMap({ net.adding($0) })
            else {
                return .failure(DailyFeedHold(reason: "the figures of login \(figures.loginKey) leave the exact decimal range; check its deals"))
            }
            lots = l; deposits = d; withdrawals = w; net = n
            closing += figures.closingTrades
        }
        return .success(DailyFeedRow(
            customerID: customerID, date: date,
            closedLots: lots.rounded(scale: DailyFeedRules.lotScale),
            depositTotal: deposits.rounded(scale: DailyFeedRules.moneyScale),
            withdrawalTotal: withdrawals.rounded(scale: DailyFeedRules.moneyScale),
            tradingNet: net.rounded(scale: DailyFeedRules.moneyScale),
            closingTrades: closing,
            logins: logins.map(\.loginKey).sorted()))
    }
}
