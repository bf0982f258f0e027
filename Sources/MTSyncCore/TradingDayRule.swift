import Foundation

/// Which calendar date a trading instant belongs to, for the loyalty feed's daily rows: a zone and the local time
/// the day starts at. `utc` (the default) is midnight UTC; `nyClose` is the FX convention many MT servers follow:
/// the day starts at 17:00 New York time the evening before, so 2026-03-29 runs from 2026-03-28 17:00 to
/// 2026-03-29 17:00 New York time, whatever the DST.
public struct TradingDayRule: Sendable, Hashable, CustomStringConvertible {
    /// An IANA zone name PostgreSQL and Foundation both know, e.g. `UTC`, `America/New_York`.
    public var zone: String
    /// Minutes after local midnight the trading day starts (0 ... 1439); a day starting in the evening is named
    /// after the next calendar date.
    public var startMinutes: Int

    public init(zone: String, startMinutes: Int = 0) {
        self.zone = zone
        self.startMinutes = startMinutes
    }

    public static let utc = TradingDayRule(zone: "UTC")
    public static let nyClose = TradingDayRule(zone: "America/New_York", startMinutes: 17 * 60)

    /// Seconds to add to local wall time so that its calendar date is the trading day (0 for a midnight start,
    /// 7 h for a 17:00 start).
    public var shiftSeconds: Int { startMinutes == 0 ? 0 : 86_400 - startMinutes * 60 }

    /// The trading day (YYYY-MM-DD) that holds the UTC instant `milliseconds`.
    public func day(ofUTCMilliseconds milliseconds: Int64) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone) ?? TimeZone(identifier: "UTC")!
        let shifted = Date(timeIntervalSince1970: Double(milliseconds) / 1000).addingTimeInterval(Double(shiftSeconds))
        let parts = calendar.dateComponents([.year, .month, .day], from: shifted)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.year!)-\(two(parts.month!))-\(two(parts.day!))"
    }

    /// The real instant (UTC milliseconds) trading day `day` (days since 1970-01-01) ends, exclusive: local midnight
    /// of the next date, less the shift. Nil when the zone is not one this build knows.
    public func closeUTCMilliseconds(ofDay day: Int64) -> Int64? {
        guard let zone = ServerTimeZone(zone) else { return nil }
        return zone.utcMilliseconds(fromServerMilliseconds: ((day + 1) * 86_400 - Int64(shiftSeconds)) * 1000).utcMilliseconds
    }

    public var description: String {
        if self == .utc { return "utc" }
        if self == .nyClose { return "ny-close" }
        return startMinutes == 0 ? zone : "\(zone) from \(String(format2: startMinutes / 60)):\(String(format2: startMinutes % 60))"
    }
}

private extension String {
    init(format2 value: Int) { self = value < 10 ? "0\(value)" : "\(value)" }
}
