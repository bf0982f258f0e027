/// The trade server's own end-of-day record of one account (bridge-protocol §4.8, MT5 `IMTDaily`, MT4
/// `DailyReport`), validated: what the tier snapshots take an account's closing state from.
public struct DailyRecord: Sendable, Hashable {
    public var login: UInt64
    /// The server date the record closes, as days since 1970-01-01 (`dayText` writes it `YYYY-MM-DD`).
    public var day: Int64
    /// When MetaTrader made it, server time.
    public var timeMilliseconds: Int64?
    public var currency: String?
    public var balance: ExactDecimal
    public var credit: ExactDecimal
    public var equity: ExactDecimal
    public var profit: ExactDecimal?
    public var balancePrevious: ExactDecimal?
    public var deposits: ExactDecimal?
    public var withdrawals: ExactDecimal?

    public init(
        login: UInt64, day: Int64, timeMilliseconds: Int64? = nil, currency: String? = nil, balance: ExactDecimal, credit: ExactDecimal,
        equity: ExactDecimal, profit: ExactDecimal? = nil, balancePrevious: ExactDecimal? = nil, deposits: ExactDecimal? = nil, withdrawals: ExactDecimal? = nil
    ) {
        self.login = login
        self.day = day
        self.timeMilliseconds = timeMilliseconds
        self.currency = currency
        self.balance = balance
        self.credit = credit
        self.equity = equity
        self.profit = profit
        self.balancePrevious = balancePrevious
        self.deposits = deposits
        self.withdrawals = withdrawals
    }

    public var dayText: String { CivilDate.text(daysSince1970: day) }
}

/// A `daily` record as the bridge sends it, values as received.
public struct RawDailyRecord: RawFieldRecord {
    public var login: String?
    public var day: String?
    public var timeMilliseconds: String?
    public var currency: String?
    public var balance: String?
    public var credit: String?
    public var equity: String?
    public var profit: String?
    public var balancePrevious: String?
    public var deposits: String?
    public var withdrawals: String?

    public init() {}

    public static let fieldNames = [
        "login", "day", "time_ms", "currency", "balance", "credit", "equity", "profit", "balance_prev", "deposits", "withdrawals",
    ]
    public static let fieldIndex: [String: Int] = Dictionary(uniqueKeysWithValues: fieldNames.enumerated().map { ($1, $0) })

    static let fieldKeyPaths: [WritableKeyPath<Self, String?> & Sendable] = [
        \.login, \.day, \.timeMilliseconds, \.currency, \.balance, \.credit, \.equity, \.profit, \.balancePrevious, \.deposits, \.withdrawals,
    ]

    public mutating func set(fieldAt index: Int, _ value: String?) {
        if Self.fieldKeyPaths.indices.contains(index) { self[keyPath: Self.fieldKeyPaths[index]] = value }
    }

    public func value(fieldAt index: Int) -> String? {
        Self.fieldKeyPaths.indices.contains(index) ? self[keyPath: Self.fieldKeyPaths[index]] : nil
    }

    /// Validates the record: `login` a positive integer, `day` a date `YYYY-MM-DD` from 1970 to 2999, `balance`,
    /// `credit` and `equity` exact decimals (required), the rest exact decimals when sent, `currency` 3 or 4 letters.
    /// Whether the login's account is known is the store's question, not this one.
    public func normalized() -> Result<DailyRecord, NormalizationRejection> {
        do {
            return .success(try normalizedOrThrow())
        } catch {
            return .failure(error)
        }
    }

    private func normalizedOrThrow() throws(NormalizationRejection) -> DailyRecord {
        let login = try Field.identifier("login", login)
        guard let text = day else { throw NormalizationRejection(field: "day", value: nil, rule: .missing) }
        guard let date = CivilDate.days(parsing: text), (0..<376_200).contains(date) /* 1970-01-01 … 2999-12-31 */ else {
            throw NormalizationRejection(field: "day", value: text, rule: .notDate)
        }
        let time = try Field.optionalInteger("time_ms", timeMilliseconds)
        if let time, !(0...AccountNormalizer.maximumServerMilliseconds).contains(time) {
            throw NormalizationRejection(field: "time_ms", value: timeMilliseconds, rule: .outOfRange, detail: "server time from 1970 to 3000")
        }
        func required(_ name: String, _ text: String?) throws(NormalizationRejection) -> ExactDecimal {
            guard let value = try Field.optionalDecimal(name, text) else { throw NormalizationRejection(field: name, value: nil, rule: .missing) }
            return value
        }
        return DailyRecord(
            login: login, day: date, timeMilliseconds: time, currency: try AccountNormalizer.currency(currency),
            balance: try required("balance", balance), credit: try required("credit", credit), equity: try required("equity", equity),
            profit: try Field.optionalDecimal("profit", profit), balancePrevious: try Field.optionalDecimal("balance_prev", balancePrevious),
            deposits: try Field.optionalDecimal("deposits", deposits), withdrawals: try Field.optionalDecimal("withdrawals", withdrawals))
    }
}
