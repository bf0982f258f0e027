/// Where a `deals` page ends: `(TimeMsc, Deal)` of its last deal (bridge-protocol/README.md §4.2).
public struct DealPosition: Sendable, Hashable, CustomStringConvertible {
    public var timeMsc: Int64
    public var deal: UInt64

    public init(timeMsc: Int64, deal: UInt64) {
        self.timeMsc = timeMsc
        self.deal = deal
    }

    public var description: String { "(TimeMsc \(timeMsc), Deal \(deal))" }
}

/// Which MT4 history `trades` reads (§4.3): the closed history (trades, balance and credit operations,
/// cancelled pending orders) or the trades open now.
public enum TradeSet: String, Sendable, Hashable {
    case closed
    case open
}

/// Where a `trades` page ends: `(close_time, order)` in the closed set, `order` alone in the open set (§4.3).
public struct TradePosition: Sendable, Hashable, CustomStringConvertible {
    /// `close_time` in seconds, server time; nil in the open set.
    public var closeTime: Int64?
    public var order: UInt64

    public init(closeTime: Int64?, order: UInt64) {
        self.closeTime = closeTime
        self.order = order
    }

    public var description: String { closeTime.map { "(close_time \($0), order \(order))" } ?? "(order \(order))" }
}
