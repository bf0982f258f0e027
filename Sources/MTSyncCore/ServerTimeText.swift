/// Server time as people write it: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `…:SS`, `…:SS.mmm` — the server's wall clock read
/// as if it were UTC (MetaTrader's convention), so no zone and no offset. One grammar for the configuration file and
/// the command line; each says which years and forms it takes, and its own error text.
public enum ServerTimeText {
    public struct Grammar: Sendable, Hashable {
        public var years: ClosedRange<Int64>
        /// A space may stand for the `T` (typed on a command line, it must be quoted).
        public var spaceSeparator: Bool
        /// Milliseconds after the seconds: exactly three digits.
        public var fraction: Bool

        public init(years: ClosedRange<Int64>, spaceSeparator: Bool, fraction: Bool) {
            self.years = years
            self.spaceSeparator = spaceSeparator
            self.fraction = fraction
        }
    }

    /// `--from`, `--to`, `--time`: 1970 to 9999, `T` or a space, milliseconds allowed.
    public static let commandLine = Grammar(years: 1970...9999, spaceSeparator: true, fraction: true)
    /// `start`, `plausible_times.earliest`: 1970 to 2999, `T` only, whole seconds.
    public static let configuration = Grammar(years: 1970...2999, spaceSeparator: false, fraction: false)

    /// Server milliseconds of `text`, a real date (2025-02-30 is not one) and time; nil when it is not in `grammar`.
    public static func milliseconds(parsing text: some StringProtocol, _ grammar: Grammar) -> Int64? {
        let text = Substring(text)
        let separator = text.firstIndex { $0 == "T" || (grammar.spaceSeparator && $0 == " ") }
        guard let days = day(text[..<(separator ?? text.endIndex)], years: grammar.years) else { return nil }
        guard let separator else { return days * 86_400_000 }
        guard let time = clock(text[text.index(after: separator)...], fraction: grammar.fraction) else { return nil }
        return days * 86_400_000 + time
    }

    private static func day(_ text: Substring, years: ClosedRange<Int64>) -> Int64? {
        guard let days = CivilDate.days(parsing: text), years.contains(CivilDate.civil(fromDays: days).year) else { return nil }
        return days
    }

    /// Milliseconds into the day of `HH:MM[:SS[.mmm]]`.
    private static func clock(_ text: Substring, fraction allowed: Bool) -> Int64? {
        let secondsAndFraction = text.split(separator: ".", omittingEmptySubsequences: false)
        guard secondsAndFraction.count <= (allowed ? 2 : 1) else { return nil }
        let parts = secondsAndFraction[0].split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), let hours = number(parts[0], digits: 2, 0...23), let minutes = number(parts[1], digits: 2, 0...59) else { return nil }
        var milliseconds = hours * 3_600_000 + minutes * 60_000
        if parts.count == 3 {
            guard let seconds = number(parts[2], digits: 2, 0...59) else { return nil }
            milliseconds += seconds * 1000
        }
        if secondsAndFraction.count == 2 {
            guard parts.count == 3, let fraction = number(secondsAndFraction[1], digits: 3, 0...999) else { return nil }
            milliseconds += fraction
        }
        return milliseconds
    }

    // MARK: - Writing

    /// `YYYY-MM-DDTHH:MM:SS.mmm` of milliseconds since 1970 (server time, or UTC with a `Z` the caller adds): how
    /// facts, status and logs write a time. Calendar arithmetic: no formatter, no locale, no time zone database.
    public static func iso8601(milliseconds: Int64) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(23)
        writeISO8601(milliseconds: milliseconds, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `iso8601(milliseconds:)` as UTF-8 bytes, without building a `String` (the store's staging and the
    /// outbox payload write it per fact while the page's transaction waits).
    public static func writeISO8601(milliseconds: Int64, into bytes: inout [UInt8]) {
        let (days, rest) = split(milliseconds)
        CivilDate.write(daysSince1970: days, into: &bytes)
        bytes.append(UInt8(ascii: "T"))
        CivilDate.write(rest / 3_600_000, width: 2, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        CivilDate.write(rest / 60_000 % 60, width: 2, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        CivilDate.write(rest / 1000 % 60, width: 2, into: &bytes)
        bytes.append(UInt8(ascii: "."))
        CivilDate.write(rest % 1000, width: 3, into: &bytes)
    }

    /// `YYYY-MM-DD HH:MM`, seconds shown only when not zero (milliseconds dropped): how a configuration summary
    /// shows a server's `start`.
    public static func minutes(milliseconds: Int64) -> String {
        let (days, rest) = split(milliseconds)
        let pad = CivilDate.padded
        let seconds = rest / 1000 % 60
        return "\(CivilDate.text(daysSince1970: days)) \(pad(rest / 3_600_000, 2)):\(pad(rest / 60_000 % 60, 2))" + (seconds == 0 ? "" : ":\(pad(seconds, 2))")
    }

    /// Whole days since 1970 and the milliseconds into the day (floored, also before 1970).
    private static func split(_ milliseconds: Int64) -> (days: Int64, rest: Int64) {
        let perDay: Int64 = 86_400_000
        let rest = milliseconds % perDay
        return rest < 0 ? (milliseconds / perDay - 1, rest + perDay) : (milliseconds / perDay, rest)
    }

    private static func number(_ text: Substring, digits: Int, _ range: ClosedRange<Int64>) -> Int64? {
        guard text.utf8.count == digits, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let value = Int64(text),
            range.contains(value)
        else { return nil }
        return value
    }
}
