/// An account's money at one moment (bridge-protocol §4.4, MAY): exact decimals in the account currency.
public struct AccountMoney: Sendable, Hashable {
    public var balance: ExactDecimal?
    public var credit: ExactDecimal?
    public var equity: ExactDecimal?
    public var margin: ExactDecimal?
    public var marginFree: ExactDecimal?

    public init(balance: ExactDecimal? = nil, credit: ExactDecimal? = nil, equity: ExactDecimal? = nil, margin: ExactDecimal? = nil, marginFree: ExactDecimal? = nil) {
        self.balance = balance
        self.credit = credit
        self.equity = equity
        self.margin = margin
        self.marginFree = marginFree
    }

    /// No figure at all: the bridge sent none.
    public var isEmpty: Bool { balance == nil && credit == nil && equity == nil && margin == nil && marginFree == nil }
}
