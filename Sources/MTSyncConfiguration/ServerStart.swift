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
        return (daysFromCivil(year: year, month: month, day: day) * 86_400 + seconds) * 1000
    }

    /// `2025-01-01 00:00` (seconds shown only when not zero).
    static func format(_ milliseconds: Int64) -> String {
        let seconds = milliseconds / 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let (year, month, day) = civil(fromDays: days)
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

    // Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, days since 1970-01-01).
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
