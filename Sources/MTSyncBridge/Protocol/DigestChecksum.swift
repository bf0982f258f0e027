import Crypto
import MTSyncCore

/// The order-independent checksum of bridge-protocol/README.md §4.7: for each record a canonical line of its
/// key fields, the first 8 bytes of its SHA-256 as a big-endian number, summed modulo 2^64. Computed the same
/// way from the bridge's records and from mtsync's store, so `reconcile` can compare buckets.
public struct DigestChecksum: Sendable, Hashable, CustomStringConvertible {
    public private(set) var value: UInt64 = 0
    public private(set) var count: Int = 0

    public init() {}

    public mutating func add(canonicalLine line: String) {
        value = value &+ Self.part(ofCanonicalLine: line)
        count += 1
    }

    /// One record's contribution: the first 8 bytes of the SHA-256 of its canonical line, big-endian.
    public static func part(ofCanonicalLine line: String) -> UInt64 {
        let digest = SHA256.hash(data: Array(line.utf8))
        var prefix: UInt64 = 0
        for byte in digest.prefix(8) { prefix = prefix << 8 | UInt64(byte) }
        return prefix
    }


    /// 16 lower-case hex digits.
    public var description: String {
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The canonical line of an MT5 deal: `Deal|Login|Action|Entry|TimeMsc|Symbol|VolumeExt|Price|Profit|Storage|Commission|Fee`,
    /// `Entry` only for buy and sell deals. Nil when a numeric field does not parse (such a record is
    /// quarantined, not digested).
    public static func canonicalLine(_ deal: MT5DealRecord) -> String? {
        guard let action = integer(deal.action), deal.action != nil else { return nil }
        let isTrade = action == "0" || action == "1"
        let fields: [String?] = [
            integer(deal.deal), integer(deal.login), action, isTrade ? integer(deal.entry) : "",
            integer(deal.timeMsc), deal.symbol ?? "", integer(deal.volumeExt), decimal(deal.price), decimal(deal.profit),
            decimal(deal.storage), decimal(deal.commission), decimal(deal.fee),
        ]
        return join(fields)
    }

    /// The canonical line of an MT4 trade record:
    /// `order|login|cmd|open_time|close_time|symbol|volume|open_price|close_price|profit|storage|commission|taxes`.
    public static func canonicalLine(_ trade: MT4TradeRecord) -> String? {
        let fields: [String?] = [
            integer(trade.order), integer(trade.login), integer(trade.cmd), integer(trade.openTime), integer(trade.closeTime),
            trade.symbol ?? "", integer(trade.volume), decimal(trade.openPrice), decimal(trade.closePrice), decimal(trade.profit),
            decimal(trade.storage), decimal(trade.commission), decimal(trade.taxes),
        ]
        return join(fields)
    }

    private static func join(_ fields: [String?]) -> String? {
        var parts: [String] = []
        parts.reserveCapacity(fields.count)
        for field in fields {
            guard let field else { return nil }
            parts.append(field)
        }
        return parts.joined(separator: "|")
    }

    /// Base 10 without leading zeros; a leading `-` kept for negative values; absent means 0. Nil when not an
    /// integer.
    static func integer(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return "0" }
        if let value = Int64(text) { return String(value) }
        if let value = UInt64(text) { return String(value) }
        return nil
    }

    /// Canonical decimal (no exponent, no trailing zeros, `0` for zero); absent means zero. Nil when malformed.
    static func decimal(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return "0" }
        return ExactDecimal(parsing: text)?.description
    }
}
