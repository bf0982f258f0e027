import MTSyncCore
import Testing

@Suite("Duration conversions: truncated toward zero, one copy")
struct DurationConversionTests {
    @Test("milliseconds and nanoseconds drop what is below their unit", arguments: [
        (Duration.seconds(2), Int64(2_000), Int64(2_000_000_000)),
        (.milliseconds(1_500), 1_500, 1_500_000_000),
        (.nanoseconds(1_999_999), 1, 1_999_999),
        (.nanoseconds(-1_500_000), -1, -1_500_000),
        (.zero, 0, 0),
    ])
    func whole(duration: Duration, milliseconds: Int64, nanoseconds: Int64) {
        #expect(duration.wholeMilliseconds == milliseconds)
        #expect(duration.wholeNanoseconds == nanoseconds)
        #expect(duration.clampedNanoseconds == nanoseconds)
    }

    @Test("a duration past Int64 nanoseconds clamps instead of trapping")
    func clamped() {
        #expect(Duration.seconds(Int64.max).clampedNanoseconds == .max)
        #expect(Duration.seconds(300).fractionalSeconds == 300)
        #expect(Duration.milliseconds(1_250).fractionalSeconds == 1.25)
    }
}
