import MTSyncCore

/// What the engine reads from a server's export bridge (bridge-protocol/README.md §4), one request per method.
///
/// The seam between the engine and the transport: `BridgeClient` (TCP or TLS, with its retries and sessions) is the
/// one conformance in production; a test can hand the engine a scripted source instead of a socket. Every method is
/// a read and safe to repeat, so a conformance may retry it; a failure it gives up on is thrown as the transport's
/// error (`BridgeClientError` for `BridgeClient`).
public protocol BridgeSource: Sendable {
    /// Runs `body` with a source whose requests share one session (one connection and handshake for a round).
    func withSession<Result: Sendable>(_ body: (any BridgeSource) async throws -> Result) async throws -> Result

    /// The capabilities the bridge announced in its `welcome` (§2): which optional methods it serves.
    func capabilities() async throws -> [String]
    /// `server.info` (§4.1): the bridge's own description, with its clock in `server_time_ms`.
    func serverInfo() async throws -> JSONValue

    /// MT5 deals with `from <= TimeMsc < to` (server time) after `after`, as pages in `(TimeMsc, Deal)` order (§4.2).
    func deals(fromMilliseconds from: Int64, toMilliseconds to: Int64, after: DealPosition?, pageSize: Int) -> BridgePages<MT5DealRecord, DealPosition>
    /// MT4 closed history with `from <= close_time × 1000 < to` after `after`, in `(close_time, order)` order (§4.3).
    func closedTrades(fromMilliseconds from: Int64, toMilliseconds to: Int64, after: TradePosition?, pageSize: Int) -> BridgePages<MT4TradeRecord, TradePosition>
    /// One page of an MT4 server's open trades after `after` (§4.3, `set: "open"`).
    func openTrades(after: TradePosition?, limit: Int) async throws -> TradesPage

    /// One page of accounts in ascending login order after `after` (§4.4), as sent.
    func accountsPage(after: UInt64?, limit: Int) async throws -> AccountsPage
    /// One page of end-of-day records of the server days starting in `[from, to)` (§4.8), as sent.
    func dailyPage(fromMilliseconds from: Int64, toMilliseconds to: Int64, after: DailyPosition?, limit: Int) async throws -> DailyPage
    /// The symbol list (§4.5), as sent.
    func symbols() async throws -> [JSONValue]
    /// Per-bucket counts, volumes and checksums of `stream` over `[from, to)` (§4.7).
    func digest(stream: String, fromMilliseconds from: Int64, toMilliseconds to: Int64, bucketMilliseconds: Int64) async throws -> [DigestBucket]
    /// Edits and deletions with a sequence above `since` (§4.6).
    func changesPage(since: Int64, limit: Int) async throws -> ChangesPage
}

extension BridgeSource {
    public func deals(fromMilliseconds from: Int64, toMilliseconds to: Int64, pageSize: Int) -> BridgePages<MT5DealRecord, DealPosition> {
        deals(fromMilliseconds: from, toMilliseconds: to, after: nil, pageSize: pageSize)
    }

    public func closedTrades(fromMilliseconds from: Int64, toMilliseconds to: Int64, pageSize: Int) -> BridgePages<MT4TradeRecord, TradePosition> {
        closedTrades(fromMilliseconds: from, toMilliseconds: to, after: nil, pageSize: pageSize)
    }
}
