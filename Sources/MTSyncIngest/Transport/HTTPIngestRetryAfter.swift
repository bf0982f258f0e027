import struct Foundation.Date
import MTSyncCore

/// `Retry-After` (RFC 9110 §10.2.3): either delay-seconds or an HTTP-date. Pure, so the three date formats a
/// recipient must accept (§5.6.7: IMF-fixdate and the obsolete RFC 850 and asctime forms) are tested without a
/// server.
public enum HTTPIngestRetryAfter {
    /// How long to wait, or nil when the value is neither form (the caller then backs off on its own). A date in
    /// the past means "now": zero. `now` is unix seconds.
    public static func delay(_ value: String, now: Int64) -> Duration? {
        let text = value.trimmingWhitespace()
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            // Too many digits for Int64 still means "a long pause", not "no advice"; the sink caps it.
            guard let seconds = Int64(text) else { return .seconds(Int64.max) }
            return .seconds(seconds)
        }
        guard let date = httpDate(text, now: now) else { return nil }
        return .seconds(max(0, date - now))
    }

    /// Unix seconds of an HTTP-date in any of the three forms, or nil.
    ///   IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`
    ///   RFC 850:     `Sunday, 06-Nov-94 08:49:37 GMT`
    ///   asctime:     `Sun Nov  6 08:49:37 1994`
    public static func httpDate(_ value: String, now: Int64? = nil) -> Int64? {
        let words = value.split(whereSeparator: { $0 == " " || $0 == "\t" })
        let day: Int64, month: Int64, year: Int64, clock: Substring
        if words.count == 6, words[0].hasSuffix(","), words[5] == "GMT" {
            guard let d = Int64(words[1]), let m = monthNumber(words[2]), let y = Int64(words[3]) else { return nil }
            (day, month, year, clock) = (d, m, y, words[4])
        } else if words.count == 4, words[0].hasSuffix(","), words[3] == "GMT" {
            let parts = words[1].split(separator: "-")
            guard parts.count == 3, let d = Int64(parts[0]), let m = monthNumber(parts[1]), let yy = Int64(parts[2]), parts[2].count == 2
            else { return nil }
            // RFC 9110 §5.6.7: a two-digit year that looks more than 50 years in the future is in the past
            // century (so RFC 9110's own `06-Nov-94` is 1994, not 2094).
            var fourDigits = (currentYear(now) / 100) * 100 + yy
            if fourDigits > currentYear(now) + 50 { fourDigits -= 100 }
            (day, month, year, clock) = (d, m, fourDigits, words[2])
        } else if words.count == 5 {
            guard let m = monthNumber(words[1]), let d = Int64(words[2]), let y = Int64(words[4]) else { return nil }
            (day, month, year, clock) = (d, m, y, words[3])
        } else {
            return nil
        }
        let hms = clock.split(separator: ":")
        guard hms.count == 3, let hour = Int64(hms[0]), let minute = Int64(hms[1]), let second = Int64(hms[2]),
              (1...CivilDate.daysInMonth(year: year, month: month)).contains(day), (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second),
              (1970...9999).contains(year)
        else { return nil }
        return CivilDate.days(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second
    }

    /// The Gregorian year of unix time `now` (the present when not given).
    private static func currentYear(_ now: Int64?) -> Int64 {
        let seconds = now ?? Int64(Date().timeIntervalSince1970)
        return CivilDate.civil(fromDays: seconds / 86_400).year
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    private static func monthNumber(_ name: Substring) -> Int64? {
        months.firstIndex(where: { $0 == name }).map { Int64($0) + 1 }
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" })!
        return String(scalars[first...last])
    }
}
