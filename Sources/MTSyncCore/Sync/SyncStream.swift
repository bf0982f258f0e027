/// A stream of records pulled from a trade server's bridge; each has its own cursor per server.
/// The raw values match the `sync_cursors.stream` CHECK constraint.
public enum SyncStream: String, Sendable, Hashable, Codable, CaseIterable {
    /// MT5 deal history, in `(TimeMsc, Deal)` order.
    case deals
    /// MT4 closed trades and balance operations, in `(close_time, order)` order.
    case trades
    /// MT4 open trades snapshot.
    case openTrades = "open_trades"
    /// Trading accounts (login, group, currency, customer id).
    case accounts
    /// Deals updated or deleted after the fact (bridges with the `changes` capability).
    case changes
    /// The server's symbol definitions (contract sizes, currencies).
    case symbols
    /// The server's end-of-day account records (capability `daily`).
    case daily
}
