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

    public init(records: [MT4TradeRecord], more: Bool, next: TradePosition?, notes: ResponseNotes = ResponseNotes()) {
        self.records = records
        self.more = more
        self.next = next
        self.notes = notes
    }
}

/// One page of accounts (§4.4), as sent: the caller validates each, so one bad record is quarantined instead of
/// failing the page.
public struct AccountsPage: Sendable {
    public let accounts: [RawAccountRecord]
    public let more: Bool
    /// `end.next`: the last login sent.
    public let next: UInt64?

    public init(accounts: [RawAccountRecord], more: Bool, next: UInt64?) {
        self.accounts = accounts
        self.more = more
        self.next = next
    }
}

/// Where a `daily` read continues (§4.8): after this server day and login.
public struct DailyPosition: Sendable, Hashable {
    public let day: String
    public let login: UInt64

    public init(day: String, login: UInt64) {
        self.day = day
        self.login = login
    }
}

/// One page of end-of-day records (§4.8), as sent (the caller validates each).
public struct DailyPage: Sendable {
    public let records: [RawDailyRecord]
    public let more: Bool
    /// `end.next`, the position after the last record sent.
    public let next: DailyPosition?

    public init(records: [RawDailyRecord], more: Bool, next: DailyPosition?) {
        self.records = records
        self.more = more
        self.next = next
    }
}

/// One page of the `changes` stream (§4.6).
public struct ChangesPage: Sendable {
    public let changes: [BridgeChange]
    public let more: Bool

    public init(changes: [BridgeChange], more: Bool) {
        self.changes = changes
        self.more = more
    }
}
