import MTSyncCore

/// The `start` setting: a server-time date `2025-01-01` or date and time `2025-01-01T10:00` (seconds optional),
/// as MetaTrader milliseconds — the server's wall clock read as if it were UTC.
enum ServerStart {
    static func parse(_ text: String) -> Int64? {
        let text = text.trimmingASCIIWhitespace()
        let parts = text.split(separator: "T", maxSplits: 1, omittingEmptySubsequences: false)
        let dateParts = parts[0].split(separator: "-", omittingEmptySubsequences: false)
        guard dateParts.count == 3, dateParts[0].count == 4, dateParts[1].count == 2, dateParts[2].count == 2,
            let year = Int64(dateParts[0]), let month = Int64(dateParts[1]), let day = Int64(dateParts[2]),
            (1970...2999).contains(year), (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year)
        else { return nil }
        var seconds: Int64 = 0
        if parts.count == 2 {
            let timeParts = parts[1].split(separator: ":", omittingEmptySubsequences: false)
            guard (2...3).contains(timeParts.count), timeParts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isASCIIDigit) }),
                let hour = Int64(timeParts[0]), let minute = Int64(timeParts[1]), hour < 24, minute < 60
            else { return nil }
            let second = timeParts.count == 3 ? Int64(timeParts[2]) ?? 60 : 0
            guard second < 60 else { return nil }
            seconds = hour * 3600 + minute * 60 + second
        }
        guard dateParts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }) else { return nil }
        return (CivilDate.days(year: year, month: month, day: day) * 86_400 + seconds) * 1000
    }

    /// `2025-01-01 00:00` (seconds shown only when not zero).
    static func format(_ milliseconds: Int64) -> String {
        let seconds = milliseconds / 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let (year, month, day) = CivilDate.civil(fromDays: days)
        let inDay = seconds - days * 86_400
        let pad = { (value: Int64) in value < 10 ? "0\(value)" : "\(value)" }
        let time = "\(pad(inDay / 3600)):\(pad(inDay % 3600 / 60))" + (inDay % 60 == 0 ? "" : ":\(pad(inDay % 60))")
        return "\(year)-\(pad(month))-\(pad(day)) \(time)"
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
