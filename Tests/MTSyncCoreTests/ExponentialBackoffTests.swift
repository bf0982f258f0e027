import MTSyncCore
import Testing

@Suite("Exponential backoff: one curve behind every retry")
struct ExponentialBackoffTests {
    @Test("the ceiling doubles per failure from `first`, at most `maximumDoublings` times, never above `maximum`", arguments: [
        (1, Duration.seconds(1)), (2, .seconds(2)), (3, .seconds(4)), (5, .seconds(16)), (9, .seconds(60)), (1_000, .seconds(60)),
    ])
    func ceiling(failure: Int, expected: Duration) {
        #expect(ExponentialBackoff(first: .seconds(1), maximum: .seconds(60)).ceiling(afterFailure: failure) == expected)
    }

    @Test("the daemon's poll backoff: twice the poll after the first failure, ten doublings at most, five minutes at most")
    func pollBackoff() {
        let backoff = ExponentialBackoff(first: .milliseconds(200), maximum: .seconds(300), maximumDoublings: 9)
        #expect(backoff.ceiling(afterFailure: 1) == .milliseconds(200))
        #expect(backoff.ceiling(afterFailure: 10) == .milliseconds(200 * 512))
        #expect(backoff.ceiling(afterFailure: 50) == .milliseconds(200 * 512))
    }

    @Test("failure 0 and negative counts wait `first`; a first delay past Int64 nanoseconds saturates at the cap")
    func edges() {
        #expect(ExponentialBackoff(first: .seconds(1), maximum: .seconds(60)).ceiling(afterFailure: 0) == .seconds(1))
        #expect(ExponentialBackoff(first: .seconds(Int64.max), maximum: .seconds(60)).ceiling(afterFailure: 3) == .seconds(60))
    }

    @Test("full jitter stays within [0, ceiling]; equal jitter within [ceiling / 2, ceiling]", arguments: [ExponentialBackoff.Jitter.full, .equal])
    func jitter(kind: ExponentialBackoff.Jitter) {
        var generator = SplitMix64(seed: 42)
        let backoff = ExponentialBackoff(first: .seconds(1), maximum: .seconds(60), jitter: kind)
        for failure in 1...12 {
            let ceiling = backoff.ceiling(afterFailure: failure)
            let delay = backoff.delay(afterFailure: failure, using: &generator)
            #expect(delay <= ceiling)
            #expect(delay >= (kind == .equal ? ceiling / 2 : .zero))
        }
    }
}
