/// Calendar arithmetic on days since 1970-01-01, proleptic Gregorian (Howard Hinnant's days_from_civil and
/// civil_from_days): no formatter, no locale, no time zone database. One place for what dates and timestamps
/// are printed and parsed with.
public enum CivilDate {
    /// (year, month 1...12, day 1...31) of a day count since 1970-01-01.
    public static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthPrime = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthPrime + 2) / 5 + 1
        let month = monthPrime < 10 ? monthPrime + 3 : monthPrime - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Days since 1970-01-01 of a (year, month, day); the inverse of `civil(fromDays:)`.
    public static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The days of `month` (1...12) in `year`, proleptic Gregorian.
    public static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// `YYYY-MM-DD` of a day count since 1970-01-01.
    public static func text(daysSince1970 days: Int64) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(10)
        write(daysSince1970: days, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `YYYY-MM-DD` of a day count since 1970-01-01 as UTF-8 bytes, without building a `String`: the store
    /// writes three timestamps per fact while its page's transaction waits (issue 23).
    public static func write(daysSince1970 days: Int64, into bytes: inout [UInt8]) {
        let (year, month, day) = civil(fromDays: days)
        write(year, width: 4, into: &bytes)
        bytes.append(UInt8(ascii: "-"))
        write(month, width: 2, into: &bytes)
        bytes.append(UInt8(ascii: "-"))
        write(day, width: 2, into: &bytes)
    }

    /// Appends `padded(value, width)` as UTF-8 bytes.
    public static func write(_ value: Int64, width: Int, into bytes: inout [UInt8]) {
        guard value >= 0 else {
            bytes.append(contentsOf: padded(value, width).utf8)  // a year before 0: as `padded` writes it
            return
        }
        DecimalDigits.write(value.magnitude, minimumWidth: width, into: &bytes)
    }

    /// Days since 1970-01-01 of a `YYYY-MM-DD` text naming a real date (2025-02-30 is not one); nil otherwise.
    public static func days(parsing text: some StringProtocol) -> Int64? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              parts.allSatisfy({ $0.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") } }),
              let year = Int64(parts[0]), let month = Int64(parts[1]), let day = Int64(parts[2]),
              (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        let days = days(year: year, month: month, day: day)
        guard civil(fromDays: days) == (year, month, day) else { return nil }
        return days
    }

    /// `value` with leading zeros to `width` digits.
    public static func padded(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
