import MTSyncCore
import Testing

@Suite("Server time text: one grammar for the file and the command line")
struct ServerTimeTextTests {
    @Test("dates, minutes, seconds and milliseconds on the command line", arguments: [
        ("2025-01-01", Int64(1_735_689_600_000)),
        ("2025-01-01T10:00", 1_735_725_600_000),
        ("2025-01-01 10:00:05", 1_735_725_605_000),
        ("2025-01-01T10:00:05.123", 1_735_725_605_123),
        ("2024-02-29", 1_709_164_800_000),
        ("1970-01-01", 0),
    ])
    func commandLine(text: String, milliseconds: Int64) {
        #expect(ServerTimeText.milliseconds(parsing: text, ServerTimeText.commandLine) == milliseconds)
    }

    @Test("not a server time", arguments: [
        "2025-02-30", "2025-1-5", "25-01-01", "1969-12-31", "2025-01-01T", "2025-01-01TT10:00", "2025-01-01T24:00", "2025-01-01T10:00.123",
        "2025-01-01T10:00:05.12", " 2025-01-01", "2025-01-01T10:00 ", "yesterday", "",
    ])
    func refused(text: String) {
        #expect(ServerTimeText.milliseconds(parsing: text, ServerTimeText.commandLine) == nil)
    }

    @Test("the configuration file: `T` only, whole seconds, years to 2999")
    func configuration() {
        #expect(ServerTimeText.milliseconds(parsing: "2025-01-01T10:00:05", ServerTimeText.configuration) == 1_735_725_605_000)
        #expect(ServerTimeText.milliseconds(parsing: "2025-01-01 10:00", ServerTimeText.configuration) == nil)
        #expect(ServerTimeText.milliseconds(parsing: "2025-01-01T10:00:05.123", ServerTimeText.configuration) == nil)
        #expect(ServerTimeText.milliseconds(parsing: "3000-01-01", ServerTimeText.configuration) == nil)
    }

    @Test("days of a month, leap years included", arguments: [(2024, 2, 29), (2025, 2, 28), (1900, 2, 28), (2000, 2, 29), (2025, 4, 30), (2025, 12, 31)])
    func daysInMonth(year: Int64, month: Int64, days: Int64) {
        #expect(CivilDate.daysInMonth(year: year, month: month) == days)
    }

    @Test("written back: ISO 8601 with milliseconds, before 1970 too; what the command line reads back", arguments: [
        (Int64(1_735_725_605_123), "2025-01-01T10:00:05.123"), (0, "1970-01-01T00:00:00.000"), (-1, "1969-12-31T23:59:59.999"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999"),
    ])
    func written(milliseconds: Int64, text: String) {
        #expect(ServerTimeText.iso8601(milliseconds: milliseconds) == text)
        var bytes = Array("at ".utf8)
        ServerTimeText.writeISO8601(milliseconds: milliseconds, into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "at " + text, "the byte writer appends the same text")
        if milliseconds >= 0 { #expect(ServerTimeText.milliseconds(parsing: text, ServerTimeText.commandLine) == milliseconds) }
    }

    @Test("a configuration summary's start: minutes, seconds only when not zero", arguments: [
        (Int64(1_735_689_600_000), "2025-01-01 00:00"), (1_735_725_605_000, "2025-01-01 10:00:05"), (1_735_725_600_999, "2025-01-01 10:00"),
    ])
    func minutes(milliseconds: Int64, text: String) {
        #expect(ServerTimeText.minutes(milliseconds: milliseconds) == text)
    }

    @Test("a padded number written as bytes is its String form", arguments: [Int64(0), 1, 9, 10, 99, 100, 2025, 12_345, -5])
    func paddedBytes(value: Int64) {
        for width in [1, 2, 3, 4] {
            var bytes: [UInt8] = []
            CivilDate.write(value, width: width, into: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == CivilDate.padded(value, width))
        }
    }
}
