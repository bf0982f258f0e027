import MTSyncApp
import Testing

@Suite("Durations as the configuration file writes them")
struct DurationTextTests {
    @Test("number-and-unit texts parse", arguments: [
        ("500ms", Duration.milliseconds(500)), ("10s", .seconds(10)), ("5m", .seconds(300)), ("1h", .seconds(3600)),
        ("3d", .seconds(259_200)), ("1h30m", .seconds(5400)), ("0s", .zero), (" 2m ", .seconds(120)), ("1m500ms", .milliseconds(60_500)),
    ])
    func parses(_ text: String, _ expected: Duration) {
        #expect(DurationText.parse(text) == expected)
    }

    @Test("anything else is refused", arguments: ["", "10", "s", "10x", "-5s", "1.5h", "10 s", "5M", "h1", "99999999999999d"])
    func refuses(_ text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test("format writes the shortest text that parses back", arguments: [
        (Duration.milliseconds(500), "500ms"), (.seconds(10), "10s"), (.seconds(5400), "1h30m"), (.seconds(259_200), "3d"), (.zero, "0s"),
    ])
    func formats(_ duration: Duration, _ expected: String) {
        #expect(DurationText.format(duration) == expected)
        #expect(DurationText.parse(expected) == duration)
    }
}
