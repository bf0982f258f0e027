/// Why a record could not be normalized: the field, the value received and the rule it broke. The caller
/// quarantines the record with its raw bytes and this reason; the rest of the stream goes on.
public struct NormalizationRejection: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Rule: String, Sendable, Hashable, Codable {
        case missing = "is required"
        case notUnsignedInteger = "must be an unsigned integer"
        case notInteger = "must be an integer"
        case notDecimal = "must be a decimal number (digits, optional point and exponent)"
        case outOfRange = "is out of range"
        case unknownEntry = "must be 0 (in), 1 (out), 2 (inout) or 3 (out_by)"
        case notPositive = "must be greater than zero"
        case sumOutOfRange = "makes the net amount overflow"
        case notCurrency = "must be a currency code of 3 or 4 letters (USD, USC, USDT)"
        case notDate = "must be a date YYYY-MM-DD from 1970 to 2999"
        /// Outside the plausible window (`PlausibleTimes`): before `earliest`, or further past the server's clock
        /// than `ahead` allows.
        case timeImplausible = "is outside the plausible times"
    }

    /// The bridge protocol's field name, e.g. `Login`, `VolumeExt`, `close_time`.
    public let field: String
    /// The value as received, cut to 64 characters; nil when the field was absent.
    public let value: String?
    public let rule: Rule
    /// Extra context, e.g. the allowed range.
    public let detail: String?

    public init(field: String, value: String?, rule: Rule, detail: String? = nil) {
        self.field = field
        self.value = value.map { $0.count > 64 ? String($0.prefix(64)) + "…" : $0 }
        self.rule = rule
        self.detail = detail
    }

    /// A stable code for counting and quarantine: `Login.must_be_an_unsigned_integer` style is too long, so
    /// the rule's case name is used, e.g. `notUnsignedInteger`.
    public var code: String { "\(rule)" }

    public var description: String {
        var text = "field \(field)"
        if let value { text += " = \(String(reflecting: value))" }
        text += " \(rule.rawValue)"
        if let detail { text += " (\(detail))" }
        return text
    }
}

/// What became of one raw record.
public enum NormalizationOutcome: Sendable, Hashable {
    /// Zero, one or two facts (an MT4 trade record yields an open and a close leg).
    case facts([TradingFact])
    /// Well formed, but filtered out or not a trade; counted by reason.
    case skipped(SkipReason)
    /// Malformed; quarantine it with this reason.
    case rejected(NormalizationRejection)
}
