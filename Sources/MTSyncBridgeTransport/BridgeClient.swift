import MTSyncBridge
import MTSyncCore
import NIOCore
import NIOPosix

/// A bridge client that outlasts dropped connections and a bridge's retryable errors (bridge-protocol/README.md
/// §5): each failure that `BridgeClientError.retryable` says is worth another attempt (connection refused or
/// dropped, timeouts, `mt_unavailable`, `busy`, `rate_limited`, …) is retried on a new connection after an
/// exponential backoff with full jitter; any other failure (wrong key, unsupported version, `bad_request`, a
/// refused certificate) is thrown at once.
///
/// Histories are read as `AsyncSequence`s of pages (`deals`, `closedTrades`) with exact back-pressure: a page is
/// requested only when the consumer asks for the next one, and a page interrupted by a failure is read again
/// from the position after the last page delivered, so every record arrives exactly once and in order.
public struct BridgeClient: Sendable {
    /// How failures are retried: the delay before retry `n` is uniformly random in
    /// `0 ... min(maximumDelay, baseDelay × 2^(n−1))` ("full jitter", so that many clients that lost the same
    /// bridge do not come back in step).
    public struct RetryPolicy: Sendable, Hashable {
        public var baseDelay: Duration
        public var maximumDelay: Duration
        /// Attempts per operation, the first included; nil: retry until the task is cancelled.
        public var maximumAttempts: Int?

        public init(baseDelay: Duration = .milliseconds(500), maximumDelay: Duration = .seconds(60), maximumAttempts: Int? = nil) {
            self.baseDelay = baseDelay
            self.maximumDelay = maximumDelay
            self.maximumAttempts = maximumAttempts
        }

        /// 0.5 s doubling to 60 s, retrying until cancelled (§5).
        public static let standard = RetryPolicy()

        /// The delay before retry number `retry` (1: after the first failure).
        public func delay(beforeRetry retry: Int, using generator: inout some RandomNumberGenerator) -> Duration {
            let base = Self.nanoseconds(baseDelay), cap = Self.nanoseconds(maximumDelay)
            // 2^62 ns is about 146 years: past any cap, and no overflow.
            let exponent = Swift.min(Swift.max(retry - 1, 0), 62)
            let (grown, overflow) = base.multipliedReportingOverflow(by: Int64(1) << exponent)
            let ceiling = Swift.max(0, Swift.min(overflow ? cap : grown, cap))
            return .nanoseconds(Int64.random(in: 0...ceiling, using: &generator))
        }

        static func nanoseconds(_ duration: Duration) -> Int64 {
            let (seconds, attoseconds) = duration.components
            let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
            return overflow ? .max : whole &+ attoseconds / 1_000_000_000
        }
    }

    /// A retry about to happen: the failure, how many attempts failed so far, and the pause before the next one.
    public struct Retry: Sendable {
        public let error: BridgeClientError
        public let failedAttempts: Int
        public let delay: Duration
    }

    public let endpoint: BridgeEndpoint
    public let retryPolicy: RetryPolicy
    let group: any EventLoopGroup
    let onRetry: @Sendable (Retry) -> Void

    /// - Parameter onRetry: told of every retry before its pause (for logs and metrics).
    public init(endpoint: BridgeEndpoint, retryPolicy: RetryPolicy = .standard, on group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                onRetry: @escaping @Sendable (Retry) -> Void = { _ in }) {
        self.endpoint = endpoint
        self.retryPolicy = retryPolicy
        self.group = group
        self.onRetry = onRetry
    }

    /// Runs `body` on a new authenticated connection; when it fails with a retryable error, waits (see
    /// `RetryPolicy`) and runs it again from the start on another connection. `body` must therefore be safe to
    /// repeat: reads are. Cancellation ends the wait at once and is thrown as `CancellationError`.
    public func withRetries<Result: Sendable>(_ body: (inout BridgeConnection) async throws -> Result) async throws -> Result {
        var failures = 0
        var generator = SystemRandomNumberGenerator()
        while true {
            try Task.checkCancellation()
            do {
                return try await BridgeConnection.withConnection(to: endpoint, on: group) { connection in
                    try await body(&connection)
                }
            } catch let error as BridgeClientError where error.retryable {
                // A read cancelled with its task ends like a dropped connection: not a reason to try again.
                try Task.checkCancellation()
                failures += 1
                if let maximum = retryPolicy.maximumAttempts, failures >= maximum { throw error }
                let delay = retryPolicy.delay(beforeRetry: failures, using: &generator)
                onRetry(Retry(error: error, failedAttempts: failures, delay: delay))
                try await Task.sleep(for: delay)
            }
        }
    }

    /// MT5 deals with `from <= TimeMsc < to` (server time) after `after`, as pages of at most `pageSize` in
    /// `(TimeMsc, Deal)` order (§4.2).
    public func deals(fromMilliseconds from: Int64, toMilliseconds to: Int64, after: DealPosition? = nil, pageSize: Int = 1000) -> BridgePages<MT5DealRecord, DealPosition> {
        BridgePages(client: self, after: after) { connection, after in
            let page = try await connection.dealsPage(fromMilliseconds: from, toMilliseconds: to, after: after.map { ($0.timeMsc, $0.deal) }, limit: pageSize)
            let last = page.records.last.flatMap { deal in
                Int64(deal.timeMsc ?? "").flatMap { time in UInt64(deal.deal ?? "").map { DealPosition(timeMsc: time, deal: $0) } }
            }
            let reached = page.next.map { DealPosition(timeMsc: $0.timeMsc, deal: $0.deal) } ?? last
            if !page.records.isEmpty, let problem = BridgePageCheck.problem(
                times: page.records.map { Int64($0.timeMsc ?? "") }, from: from, to: to,
                start: after.map { ($0.timeMsc, $0.deal) }, end: reached.map { ($0.timeMsc, $0.deal) }) {
                throw BridgeClientError(endpoint: endpoint.description, retryable: false, reason: problem, protocolError: nil)
            }
            return (page.records, reached, page.more)
        }
    }

    /// MT4 closed history (trades, balance and credit operations, cancelled pending orders) with
    /// `from <= close_time × 1000 < to` after `after`, as pages of at most `pageSize` in `(close_time, order)`
    /// order (§4.3).
    public func closedTrades(fromMilliseconds from: Int64, toMilliseconds to: Int64, after: TradePosition? = nil, pageSize: Int = 1000) -> BridgePages<MT4TradeRecord, TradePosition> {
        BridgePages(client: self, after: after) { connection, after in
            let page = try await connection.tradesPage(set: .closed, fromMilliseconds: from, toMilliseconds: to, after: after, limit: pageSize)
            let last = page.records.last.flatMap { trade in
                Int64(trade.closeTime ?? "").flatMap { time in UInt64(trade.order ?? "").map { TradePosition(closeTime: time, order: $0) } }
            }
            let reached = page.next ?? last
            // close_time is in seconds and the range in milliseconds (§4.3): a bridge that works in whole seconds may
            // round the range's ends, so the check allows the second each end falls in.
            if !page.records.isEmpty, let problem = BridgePageCheck.problem(
                times: page.records.map { Int64($0.closeTime ?? "").map { $0 * 1000 } }, from: from - from % 1000, to: to + (1000 - to % 1000) % 1000,
                start: after.map { (($0.closeTime ?? 0) * 1000, $0.order) }, end: reached.map { (($0.closeTime ?? 0) * 1000, $0.order) }) {
                throw BridgeClientError(endpoint: endpoint.description, retryable: false, reason: problem, protocolError: nil)
            }
            return (page.records, reached, page.more)
        }
    }
}
