/// What decides a login's facts from one moment on: its group and currency, as the bridge (TCP accounts stream or
/// a drop's accounts file) or the rules file said.
public struct AccountState: Sendable, Hashable {
    /// MetaTrader group path (`real\forex\A`, `demo\forex`); nil when the bridge sent none.
    public var group: String?
    /// Deposit currency (`USD`, `USC`); nil when the bridge sent none.
    public var currency: String?
    /// UTC milliseconds from which this state holds; nil for the first state learned, which holds for all the
    /// login's history before any later state (a login's first account record describes its past too).
    public var validFromUTCMilliseconds: Int64?

    public init(group: String?, currency: String?, validFromUTCMilliseconds: Int64? = nil) {
        self.group = group
        self.currency = currency
        self.validFromUTCMilliseconds = validFromUTCMilliseconds
    }
}

/// Every state learned of one login, oldest first: a group change (demo → real) applies to the deals after it, and
/// the deals before it keep the decision their own time called for, so history stays explainable.
public struct AccountHistory: Sendable, Hashable {
    /// Sorted by `validFromUTCMilliseconds`, the `nil` (first) state first.
    public private(set) var states: [AccountState]

    public init(_ states: [AccountState]) {
        self.states = states.sorted { ($0.validFromUTCMilliseconds ?? Int64.min) < ($1.validFromUTCMilliseconds ?? Int64.min) }
    }

    /// One state holding for all time (the rules file's accounts, a test's fixture).
    public init(always state: AccountState) {
        states = [AccountState(group: state.group, currency: state.currency, validFromUTCMilliseconds: nil)]
    }

    /// The state at `milliseconds` (UTC): the latest one valid from then or before, else the first one.
    public func state(atUTCMilliseconds milliseconds: Int64) -> AccountState? {
        var chosen = states.first
        for state in states.dropFirst() {
            guard let from = state.validFromUTCMilliseconds, from <= milliseconds else { break }
            chosen = state
        }
        return chosen
    }
}
