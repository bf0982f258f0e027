import MTSyncCore

/// A line of a response that could not be read as a record: quarantined with its reason and raw bytes (its first
/// `BridgeFrameDecoder.keptPrefix` bytes when it was over-long), while the rest of the response is read.
public struct RejectedLine: Sendable, Hashable {
    /// `line_too_long` or `malformed_line`.
    public let code: String
    public let reason: String
    public let raw: [UInt8]
}

/// Something a bridge said that mtsync does not believe or cannot use, without it costing a record: a `next`
/// that is not the last record sent, a `count` that lies, lines of an earlier request. Logged, counted, and shown
/// by `status` as the server's last bridge warning.
public struct BridgeAnomaly: Sendable, Hashable, CustomStringConvertible {
    /// Short and stable, for metrics: `next_not_last`, `next_missing`, `count_mismatch`, `stray_line`, `unreadable_next`,
    /// `outside_range`, `out_of_order`, `duplicate_in_page`.
    public let code: String
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// What a response brought besides its records.
public struct ResponseNotes: Sendable {
    public var rejected: [RejectedLine] = []
    public var anomalies: [BridgeAnomaly] = []

    public init() {}

    public static func + (left: ResponseNotes, right: ResponseNotes) -> ResponseNotes {
        var sum = left
        sum.rejected += right.rejected
        sum.anomalies += right.anomalies
        return sum
    }
}

/// One page of MT5 deals and the position after it.
public struct DealsPage: Sendable {
    public let records: [MT5DealRecord]
    public let more: Bool
    /// `end.next` as the bridge said it, `(TimeMsc, Deal)`: a claim, checked against the last record sent.
    public let next: (timeMsc: Int64, deal: UInt64)?
    public let notes: ResponseNotes
}

/// One page of MT4 trade records and the position after it.
public struct TradesPage: Sendable {
    public let records: [MT4TradeRecord]
    public let more: Bool
    /// `end.next` as the bridge said it: a claim, checked against the last record sent.
    public let next: TradePosition?
    public let notes: ResponseNotes
}
