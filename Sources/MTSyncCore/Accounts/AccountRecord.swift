/// One trading account as the bridge's `accounts` request or a drop's accounts file gives it, validated
/// (`AccountNormalizer`).
public struct AccountRecord: Sendable, Hashable {
    public var login: UInt64
    public var group: String?
    /// Upper-case currency code (`USD`, `USC`, `USDT`).
    public var currency: String?
    public var leverage: Int?
    /// The broker's customer id for the account (MT5 `ClientID`); nil when the bridge sent none or an empty one.
    public var clientID: String?
    /// `updated_ms`: the account's last change, server time.
    public var updatedMilliseconds: Int64?
    /// `updated_ms` in UTC, when the bridge sent it: where a changed group or currency starts to hold.
    public var updatedUTCMilliseconds: Int64?
    /// The account's money (§4.4, MAY), exact, in the account currency; nil when the bridge sent none.
    public var money: AccountMoney?

    public init(
        login: UInt64, group: String?, currency: String?, leverage: Int?, clientID: String?, updatedMilliseconds: Int64?,
        updatedUTCMilliseconds: Int64? = nil, money: AccountMoney? = nil
    ) {
        self.login = login
        self.group = group
        self.currency = currency
        self.leverage = leverage
        self.clientID = clientID
        self.updatedMilliseconds = updatedMilliseconds
        self.updatedUTCMilliseconds = updatedUTCMilliseconds
        self.money = money
    }
}

/// An account record as the bridge sends it (§4.4), every value kept as the text received, so a bad one can be
/// refused naming its field and quarantined with its bytes.
public struct RawAccountRecord: RawFieldRecord {
    public var login: String?
    public var group: String?
    public var currency: String?
    public var leverage: String?
    public var clientID: String?
    public var updatedMilliseconds: String?
    public var balance: String?
    public var credit: String?
    public var equity: String?
    public var margin: String?
    public var marginFree: String?

    public init() {}

    public static let fieldNames = [
        "login", "group", "currency", "leverage", "client_id", "updated_ms", "balance", "credit", "equity", "margin", "margin_free",
    ]
    public static let fieldIndex: [String: Int] = Dictionary(uniqueKeysWithValues: fieldNames.enumerated().map { ($1, $0) })

    static let fieldKeyPaths: [WritableKeyPath<Self, String?> & Sendable] = [
        \.login, \.group, \.currency, \.leverage, \.clientID, \.updatedMilliseconds, \.balance, \.credit, \.equity, \.margin, \.marginFree,
    ]

    public mutating func set(fieldAt index: Int, _ value: String?) {
        if Self.fieldKeyPaths.indices.contains(index) { self[keyPath: Self.fieldKeyPaths[index]] = value }
    }

    public func value(fieldAt index: Int) -> String? {
        Self.fieldKeyPaths.indices.contains(index) ? self[keyPath: Self.fieldKeyPaths[index]] : nil
    }

    public mutating func set(_ name: String, _ value: String?) {
        if let index = Self.fieldIndex[name] { set(fieldAt: index, value) }
    }
}

/// Validates account records (bridge-protocol §4.4) before they can decide anything: a record that fails is
/// quarantined with the reason, and the other accounts are stored.
///
/// - `login`: an unsigned integer within PostgreSQL's bigint, above zero.
/// - `currency`: 3 or 4 letters (ISO 4217 codes, cent codes such as `USC`, and `USDT`), upper-cased; anything else
///   is not a currency mtsync can report in.
/// - `leverage`: an integer from 1 to 1 000 000 (1:1 … 1:1 000 000); anything else is not a leverage.
/// - money (`balance`, `credit`, `equity`, `margin`, `margin_free`): exact decimals.
/// - `updated_ms`: an integer, server time; converted to UTC with the server's zone.
/// - `group` and `client_id`: any text; an empty one counts as absent.
public enum AccountNormalizer {
    public static let leverageRange = 1...1_000_000
    /// 3000-01-01T00:00:00 in milliseconds.
    static let maximumServerMilliseconds: Int64 = 32_503_680_000_000

    public static func normalize(_ raw: RawAccountRecord, zone: ServerTimeZone) -> Result<AccountRecord, NormalizationRejection> {
        do {
            return .success(try normalizeOrThrow(raw, zone: zone))
        } catch {
            return .failure(error)
        }
    }

    /// A currency code, upper-cased: 3 or 4 letters; nil when absent or empty.
    static func currency(_ text: String?) throws(NormalizationRejection) -> String? {
        guard let text, !text.isEmpty else { return nil }
        let code = text.uppercased()
        guard (3...4).contains(code.utf8.count), code.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            throw NormalizationRejection(field: "currency", value: text, rule: .notCurrency)
        }
        return code
    }

    private static func normalizeOrThrow(_ raw: RawAccountRecord, zone: ServerTimeZone) throws(NormalizationRejection) -> AccountRecord {
        let login = try Field.identifier("login", raw.login)
        let currency = try currency(raw.currency)
        var leverage: Int?
        if let value = try Field.optionalInteger("leverage", raw.leverage) {
            guard value >= Int64(leverageRange.lowerBound), value <= Int64(leverageRange.upperBound) else {
                throw NormalizationRejection(field: "leverage", value: raw.leverage, rule: .outOfRange, detail: "1 to 1000000")
            }
            leverage = Int(value)
        }
        let updated = try Field.optionalInteger("updated_ms", raw.updatedMilliseconds)
        var updatedUTC: Int64?
        if let updated {
            // Bounded before any arithmetic on it: a bridge's wild value is a refused record, not an overflow.
            guard (0...maximumServerMilliseconds).contains(updated) else {
                throw NormalizationRejection(field: "updated_ms", value: raw.updatedMilliseconds, rule: .outOfRange, detail: "server time from 1970 to 3000")
            }
            updatedUTC = zone.utcMilliseconds(fromServerMilliseconds: updated, policy: .earlier).utcMilliseconds
        }
        let money = AccountMoney(
            balance: try Field.optionalDecimal("balance", raw.balance), credit: try Field.optionalDecimal("credit", raw.credit),
            equity: try Field.optionalDecimal("equity", raw.equity), margin: try Field.optionalDecimal("margin", raw.margin),
            marginFree: try Field.optionalDecimal("margin_free", raw.marginFree))
        return AccountRecord(
            login: login, group: raw.group.flatMap { $0.isEmpty ? nil : $0 }, currency: currency, leverage: leverage,
            clientID: raw.clientID.flatMap { $0.isEmpty ? nil : $0 }, updatedMilliseconds: updated, updatedUTCMilliseconds: updatedUTC,
            money: money.isEmpty ? nil : money)
    }
}
