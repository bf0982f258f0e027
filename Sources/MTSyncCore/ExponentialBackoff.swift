/// How long to wait after consecutive failures: a ceiling that starts at `first` and doubles per failure, at most
/// `maximumDoublings` times and never above `maximum`, with optional jitter under it. The one curve behind every
/// retry in mtsync — the bridge client's attempts, the relay's and the feed's redeliveries, the daemon's polls —
/// each with its own numbers; the loops around it stay their own (leases, metrics, pruning differ).
public struct ExponentialBackoff: Sendable, Hashable {
    public enum Jitter: Sendable, Hashable {
        /// Exactly the ceiling.
        case none
        /// Uniform in [0, ceiling]: retries of many clients spread out the most.
        case full
        /// Uniform in [ceiling / 2, ceiling]: spread out, yet never much sooner than the curve.
        case equal
    }

    public var first: Duration
    public var maximum: Duration
    public var maximumDoublings: Int
    public var jitter: Jitter

    public init(first: Duration, maximum: Duration, maximumDoublings: Int = 62, jitter: Jitter = .none) {
        self.first = first
        self.maximum = maximum
        self.maximumDoublings = maximumDoublings
        self.jitter = jitter
    }

    /// The ceiling after failure number `failure` (1: the first): `first` · 2^(failure − 1), within the caps. In
    /// whole nanoseconds, saturating: a long outage's doubling never overflows.
    public func ceiling(afterFailure failure: Int) -> Duration {
        .nanoseconds(ceilingNanoseconds(afterFailure: failure))
    }

    /// The wait after failure number `failure`, jittered by `generator`.
    public func delay(afterFailure failure: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = ceilingNanoseconds(afterFailure: failure)
        switch jitter {
        case .none: return .nanoseconds(ceiling)
        case .full: return .nanoseconds(Int64.random(in: 0...ceiling, using: &generator))
        case .equal: return .nanoseconds(Int64.random(in: (ceiling / 2)...ceiling, using: &generator))
        }
    }

    /// The wait after failure number `failure`, jittered by the system's generator.
    public func delay(afterFailure failure: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(afterFailure: failure, using: &generator)
    }

    private func ceilingNanoseconds(afterFailure failure: Int) -> Int64 {
        let base = first.clampedNanoseconds, cap = maximum.clampedNanoseconds
        // 2^62 ns is about 146 years: past any cap, and no overflow of the shift.
        let exponent = Swift.min(Swift.max(failure - 1, 0), Swift.max(0, Swift.min(maximumDoublings, 62)))
        let (grown, overflow) = base.multipliedReportingOverflow(by: Int64(1) << exponent)
        return Swift.max(0, Swift.min(overflow ? cap : grown, cap))
    }
}
