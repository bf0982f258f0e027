import MTSyncCore
import NIOCore
import NIOPosix

/// A bridge client that outlasts dropped connections and a bridge's retryable errors (bridge-protocol/README.md
/// §5): each failure that `BridgeClientError.retryable` says is worth another attempt (connection refused or
/// dropped, timeouts, `mt_unavailable`, `busy`, `rate_limited`, …) is retried on a new connection after an
/// exponential backoff with full jitter, within the policy's budget; any other failure (wrong key, unsupported
/// version, `bad_request`, a refused certificate) is thrown at once. Every retry is reported to `onRetry` as it
/// happens, so a bridge that is down shows in the log and in `status` long before anything gives up.
///
/// Histories are read as `AsyncSequence`s of pages (`deals`, `closedTrades`) with exact back-pressure: a page is
/// requested only when the consumer asks for the next one, and a page interrupted by a failure is read again
/// from the position after the last page delivered, so every record arrives exactly once and in order.
///
/// Inside `withSession`, every request goes over one authenticated connection (reconnecting only after a failure),
/// kept alive with pings while idle; outside, each operation opens its own.
public struct BridgeClient: Sendable {
    /// How failures are retried: the delay before retry `n` is uniformly random in
    /// `0 ... min(maximumDelay, baseDelay × 2^(n−1))` ("full jitter", so that many clients that lost the same
    /// bridge do not come back in step), and an operation gives up after `maximumAttempts`, after `giveUpAfter`, or
    /// after `maximumViolations` protocol violations (a bridge bug does not go away by asking again and again).
    public struct RetryPolicy: Sendable, Hashable {
        public var baseDelay: Duration
        public var maximumDelay: Duration
        /// Attempts per operation, the first included; nil: no limit by count.
        public var maximumAttempts: Int?
        /// How long an operation may keep failing before the last failure is thrown; nil: no limit by time.
        public var giveUpAfter: Duration?
        /// Attempts that ended in a protocol violation (unreadable answers, broken paging), after which the
        /// violation is thrown even when the budget allows more.
        public var maximumViolations: Int

        public init(baseDelay: Duration = .milliseconds(500), maximumDelay: Duration = .seconds(60), maximumAttempts: Int? = nil, giveUpAfter: Duration? = nil, maximumViolations: Int = 3) {
            self.baseDelay = baseDelay
            self.maximumDelay = maximumDelay
            self.maximumAttempts = maximumAttempts
            self.giveUpAfter = giveUpAfter
            self.maximumViolations = maximumViolations
        }

        /// 0.5 s doubling to 60 s, for at most 5 minutes (§5): what a one-shot command (sync, backfill, reconcile)
        /// waits for a bridge before it exits 75.
        public static let standard = RetryPolicy(giveUpAfter: standardGiveUpAfter)

        /// How long a one-shot command keeps trying a failing bridge (`bridge.give_up_after`'s default).
        public static let standardGiveUpAfter = Duration.seconds(300)

        /// The daemon's: a few quick attempts, then the pull fails, the server shows FAILING, and the daemon's own
        /// poll backoff (up to 5 minutes) decides when to try again.
        public static let daemon = RetryPolicy(maximumAttempts: 4, giveUpAfter: .seconds(60))

        /// The delay before retry number `retry` (1: after the first failure).
        public func delay(beforeRetry retry: Int, using generator: inout some RandomNumberGenerator) -> Duration {
            ExponentialBackoff(first: baseDelay, maximum: maximumDelay, jitter: .full).delay(afterFailure: retry, using: &generator)
        }

        /// Whether to give up after `failures` attempts failed (`violations` of them protocol violations), `elapsed`
        /// since the first began, with `delay` to wait before the next.
        func givesUp(failures: Int, violations: Int, elapsed: Duration, delay: Duration) -> Bool {
            if let maximumAttempts, failures >= maximumAttempts { return true }
            if violations >= maximumViolations { return true }
            if let giveUpAfter, elapsed + delay > giveUpAfter { return true }
            return false
        }

    }

    /// A failed attempt: the failure, how many attempts failed so far, and the pause before the next one (nil when
    /// this was the last: the failure is thrown next).
    public struct Retry: Sendable {
        public let error: BridgeClientError
        public let failedAttempts: Int
        public let delay: Duration?
    }

    public let endpoint: BridgeEndpoint
    public let retryPolicy: RetryPolicy
    let group: any EventLoopGroup
    let onRetry: @Sendable (Retry) async -> Void
    /// The session this client's requests go through (inside `withSession`).
    let session: BridgeSession?

    /// - Parameter onRetry: told of every failed attempt before its pause, and of the last one before it is thrown
    ///   (for logs, metrics and `status`).
    public init(endpoint: BridgeEndpoint, retryPolicy: RetryPolicy = .standard, on group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                onRetry: @escaping @Sendable (Retry) async -> Void = { _ in }) {
        self.endpoint = endpoint
        self.retryPolicy = retryPolicy
        self.group = group
        self.onRetry = onRetry
        self.session = nil
    }

    private init(_ client: BridgeClient, session: BridgeSession?) {
        self.endpoint = client.endpoint
        self.retryPolicy = client.retryPolicy
        self.group = client.group
        self.onRetry = client.onRetry
        self.session = session
    }

    /// This client with another retry policy (the daemon's, a test's).
    public func with(retryPolicy: RetryPolicy) -> BridgeClient {
        BridgeClient(endpoint: endpoint, retryPolicy: retryPolicy, on: group, onRetry: onRetry)
    }

    /// Runs `body` with a client whose requests share one authenticated connection, opened at the first request,
    /// reopened only after a failure, pinged while idle (§3), and closed when `body` returns: a sync round costs one
    /// TCP connection and one HMAC handshake instead of one per request.
    public func withSession<Result: Sendable>(_ body: (BridgeClient) async throws -> Result) async throws -> Result {
        if session != nil { return try await body(self) }
        return try await BridgeSession.run(endpoint: endpoint, group: group) { session in
            try await body(BridgeClient(self, session: session))
        }
    }

    /// Runs `body` on an authenticated connection (the session's, or a new one); when it fails with a retryable
    /// error, waits (see `RetryPolicy`) and runs it again from the start on another connection. `body` must
    /// therefore be safe to repeat: reads are. Cancellation ends the wait at once and is thrown as `CancellationError`.
    public func withRetries<Result: Sendable>(_ body: @escaping @Sendable (inout BridgeConnection) async throws -> Result) async throws -> Result {
        var failures = 0, violations = 0
        let started = ContinuousClock.now
        var generator = SystemRandomNumberGenerator()
        while true {
            try Task.checkCancellation()
            do {
                if let session { return try await session.perform(body) }
                return try await BridgeConnection.withConnection(to: endpoint, on: group) { connection in
                    try await body(&connection)
                }
            } catch let error as BridgeClientError where error.retryable {
                // A read cancelled with its task ends like a dropped connection: not a reason to try again.
                try Task.checkCancellation()
                failures += 1
                if error.kind == .protocolViolation { violations += 1 }
                let delay = retryPolicy.delay(beforeRetry: failures, using: &generator)
                let elapsed = ContinuousClock.now - started
                if retryPolicy.givesUp(failures: failures, violations: violations, elapsed: elapsed, delay: delay) {
                    await onRetry(Retry(error: error, failedAttempts: failures, delay: nil))
                    throw failures == 1 ? error : BridgeClientError(
                        endpoint: error.endpoint, kind: error.kind, transport: error.transport, retryable: true,
                        reason: "gave up after \(failures) attempts in \(elapsed.components.seconds) s; the last: \(error.reason)", protocolError: error.protocolError)
                }
                await onRetry(Retry(error: error, failedAttempts: failures, delay: delay))
                try await Task.sleep(for: delay)
            }
        }
    }

    /// MT5 deals with `from <= TimeMsc < to` (server time) after `after`, as pages of at most `pageSize` in
    /// `(TimeMsc, Deal)` order (§4.2).
    public func deals(fromMilliseconds from: Int64, toMilliseconds to: Int64, after: DealPosition? = nil, pageSize: Int = 1000) -> BridgePages<MT5DealRecord, DealPosition> {
        let endpoint = endpoint.description
        return BridgePages(after: after) { after in
            try await withRetries { connection in
                let page = try await connection.dealsPage(fromMilliseconds: from, toMilliseconds: to, after: after.map { ($0.timeMsc, $0.deal) }, limit: pageSize)
                return try BridgePageCheck.sort(
                    page.records, notes: page.notes, more: page.more, claimedNext: page.next.map { DealPosition(timeMsc: $0.timeMsc, deal: $0.deal) },
                    from: from, to: to, after: after, endpoint: endpoint
                ) { deal in
                    Int64(deal.timeMsc ?? "").flatMap { time in UInt64(deal.deal ?? "").map { (time, DealPosition(timeMsc: time, deal: $0)) } }
                } key: { ($0.timeMsc, $0.deal) }
            }
        }
    }

    /// MT4 closed history (trades, balance and credit operations, cancelled pending orders) with
    /// `from <= close_time × 1000 < to` after `after`, as pages of at most `pageSize` in `(close_time, order)`
    /// order (§4.3).
    public func closedTrades(fromMilliseconds from: Int64, toMilliseconds to: Int64, after: TradePosition? = nil, pageSize: Int = 1000) -> BridgePages<MT4TradeRecord, TradePosition> {
        let endpoint = endpoint.description
        return BridgePages(after: after) { after in
            try await withRetries { connection in
                let page = try await connection.tradesPage(set: .closed, fromMilliseconds: from, toMilliseconds: to, after: after, limit: pageSize)
                // close_time is in seconds and the range in milliseconds (§4.3): a bridge that works in whole seconds may
                // round the range's ends, so the check allows the second each end falls in.
                return try BridgePageCheck.sort(
                    page.records, notes: page.notes, more: page.more, claimedNext: page.next,
                    from: from - from % 1000, to: to + (1000 - to % 1000) % 1000, after: after, endpoint: endpoint
                ) { trade in
                    Int64(trade.closeTime ?? "").flatMap { time in
                        time.multipliedReportingOverflow(by: 1000).overflow ? nil : UInt64(trade.order ?? "").map { (time * 1000, TradePosition(closeTime: time, order: $0)) }
                    }
                } key: { (($0.closeTime ?? 0) &* 1000, $0.order) }
            }
        }
    }
}

/// The engine's reads, each one request with the client's retries (on its session inside `withSession`).
extension BridgeClient: BridgeSource {
    public func withSession<Result: Sendable>(_ body: (any BridgeSource) async throws -> Result) async throws -> Result {
        try await withSession { (client: BridgeClient) in try await body(client) }
    }

    public func capabilities() async throws -> [String] {
        try await withRetries { connection in connection.welcome?.capabilities ?? [] }
    }

    public func serverInfo() async throws -> JSONValue {
        try await withRetries { connection in try await connection.serverInfo() }
    }

    public func openTrades(after: TradePosition?, limit: Int) async throws -> TradesPage {
        try await withRetries { connection in try await connection.tradesPage(set: .open, after: after, limit: limit) }
    }

    public func accountsPage(after: UInt64?, limit: Int) async throws -> AccountsPage {
        try await withRetries { connection in try await connection.accountsPage(after: after, limit: limit) }
    }

    public func dailyPage(fromMilliseconds from: Int64, toMilliseconds to: Int64, after: DailyPosition?, limit: Int) async throws -> DailyPage {
        try await withRetries { connection in try await connection.dailyPage(fromMilliseconds: from, toMilliseconds: to, after: after, limit: limit) }
    }

    public func symbols() async throws -> [JSONValue] {
        try await withRetries { connection in try await connection.symbols() }
    }

    public func digest(stream: String, fromMilliseconds from: Int64, toMilliseconds to: Int64, bucketMilliseconds: Int64) async throws -> [DigestBucket] {
        try await withRetries { connection in
            try await connection.digest(stream: stream, fromMilliseconds: from, toMilliseconds: to, bucketMilliseconds: bucketMilliseconds)
        }
    }

    public func changesPage(since: Int64, limit: Int) async throws -> ChangesPage {
        try await withRetries { connection in try await connection.changesPage(since: since, limit: limit) }
    }
}
