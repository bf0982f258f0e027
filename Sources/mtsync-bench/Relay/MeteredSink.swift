import MTSyncCore
import MTSyncIngest
import Synchronization

/// A sink around the real one that counts what the relay hands it and how long delivering took: the relay's
/// round is claim → pack → deliver → mark, so the run's time minus `deliverTime` is what the relay spends on
/// its own side (database and packing). Costs two atomic adds and a clock read per `deliver` call.
struct MeteredSink: IngestSink {
    let wrapped: any IngestSink
    let meter = Meter()

    var maximumMessageBytes: Int { wrapped.maximumMessageBytes }
    var grouping: MessageGrouping { wrapped.grouping }

    final class Meter: Sendable {
        let calls = Atomic<Int>(0)
        let messages = Atomic<Int>(0)
        let bytes = Atomic<Int>(0)
        let deliveredMessages = Atomic<Int>(0)
        /// Nanoseconds inside `deliver`.
        let deliverNanoseconds = Atomic<Int>(0)

        var deliverTime: Duration { .nanoseconds(deliverNanoseconds.load(ordering: .relaxed)) }
    }

    func deliver(_ messages: [IngestMessage]) async -> [DeliveryOutcome] {
        let clock = ContinuousClock()
        let started = clock.now
        let outcomes = await wrapped.deliver(messages)
        let elapsed = clock.now - started
        meter.calls.add(1, ordering: .relaxed)
        meter.messages.add(messages.count, ordering: .relaxed)
        meter.bytes.add(messages.reduce(0) { $0 + $1.body.utf8.count }, ordering: .relaxed)
        meter.deliveredMessages.add(outcomes.count { $0 == .delivered }, ordering: .relaxed)
        meter.deliverNanoseconds.add(Int(elapsed.wholeNanoseconds), ordering: .relaxed)
        return outcomes
    }
}
