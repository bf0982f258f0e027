import MTSyncCore

/// The `start` setting: a server-time date `2025-01-01` or date and time `2025-01-01T10:00` (seconds optional),
/// as MetaTrader milliseconds — the server's wall clock read as if it were UTC.
enum ServerStart {
    static func parse(_ text: String) -> Int64? {
        ServerTimeText.milliseconds(parsing: text.trimmingASCIIWhitespace(), ServerTimeText.configuration)
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
}
