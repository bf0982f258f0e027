import Foundation

/// How a trade server's clock relates to UTC.
///
/// MetaTrader timestamps (`Time`, `TimeMsc`, MT4 `open_time`/`close_time`) count the server's *wall clock* as if
/// it were UTC: "2025-03-30 03:30" on a server in Athens is stored as the epoch value of 2025-03-30T03:30:00Z.
/// Converting to a real instant therefore needs the server's zone rule, configured per server as one of:
///
/// - an IANA zone name, e.g. `Europe/Athens` (MT5 servers take DST dates from their Windows zone);
/// - a fixed offset, e.g. `+02:00`, `-05:00`, `UTC`;
/// - `ny-close`: the common broker rule "New York wall clock + 7 hours" (GMT+2 in winter, GMT+3 in summer,
///   switching on **US** DST dates, so that the trading day starts at 17:00 New York time).
///
/// Wall times that do not exist (the spring-forward gap) map forward by the gap's length — 02:30 on a day
/// clocks jump from 02:00 to 03:00 is read as 03:30 — which is what a server clock showing that time must mean.
/// Wall times that occur twice (the fall-back overlap) map to the earlier instant by default; set
/// `AmbiguousTimePolicy.later` for servers whose clocks are known to repeat the hour after the switch
/// (this matches Python zoneinfo's `fold=0` / `fold=1`, against which the tests check every case).
public struct ServerTimeZone: Sendable, Hashable, CustomStringConvertible {
    public enum AmbiguousTimePolicy: String, Sendable, Hashable, Codable {
        case earlier
        case later
    }

    /// How a server time was resolved.
    public enum Resolution: String, Sendable, Hashable {
        case unique
        /// The wall time was skipped by a DST switch and was mapped forward.
        case gap
        /// The wall time occurred twice; the policy chose one.
        case overlap
    }

    /// The configured text, e.g. `Europe/Athens`, `+02:00`, `ny-close`; recorded on every fact as `zone`.
    public let name: String
    private let rule: Rule

    private enum Rule: Sendable, Hashable {
        case fixed(offsetSeconds: Int64)
        case transitions(OffsetTable)
        /// Server wall clock = wall clock of `table`'s zone + `shiftSeconds`.
        case shifted(OffsetTable, shiftSeconds: Int64)
    }

    /// Parses a zone setting. Nil when it is none of the three forms above.
    public init?(_ name: String) {
        self.name = name
        if name == "ny-close" {
            guard let newYork = OffsetTable(identifier: "America/New_York") else { return nil }
            rule = .shifted(newYork, shiftSeconds: 7 * 3600)
        } else if name == "UTC" || name == "Z" {
            rule = .fixed(offsetSeconds: 0)
        } else if let offset = Self.parseFixedOffset(name) {
            rule = .fixed(offsetSeconds: offset)
        } else if name.contains("/"), let table = OffsetTable(identifier: name) {
            rule = .transitions(table)
        } else {
            return nil
        }
    }

    public var description: String { name }

    /// The times (milliseconds since 1970, either clock) a conversion is exact for: ±100 000 000 days, about
    /// ±273 000 years (ECMAScript's `Date` range). Inside it, adding any zone's offset cannot overflow `Int64`.
    /// A value outside is clamped to the range first, so that no value a bridge sends can trap the process
    /// (`Int64.max` at `-05:00` used to overflow); whether a time is worth storing is `PlausibleTimes`' question,
    /// asked before a conversion's result is used.
    public static let convertibleMilliseconds: ClosedRange<Int64> = -8_640_000_000_000_000...8_640_000_000_000_000

    /// The UTC instant (milliseconds since 1970) that a server wall-clock time (milliseconds, MetaTrader style)
    /// denotes, and how it was resolved. Never traps: a time outside `convertibleMilliseconds` is clamped to it.
    public func utcMilliseconds(fromServerMilliseconds serverMilliseconds: Int64, policy: AmbiguousTimePolicy = .earlier) -> (utcMilliseconds: Int64, resolution: Resolution) {
        let serverMilliseconds = serverMilliseconds.clamped(to: Self.convertibleMilliseconds)
        // Split into whole seconds (floor) and the millisecond remainder, so negative times stay correct.
        let seconds = serverMilliseconds >= 0 ? serverMilliseconds / 1000 : (serverMilliseconds - 999) / 1000
        let remainder = serverMilliseconds - seconds * 1000
        let (utcSeconds, resolution): (Int64, Resolution)
        switch rule {
        case .fixed(let offset):
            (utcSeconds, resolution) = (seconds - offset, .unique)
        case .transitions(let table):
            (utcSeconds, resolution) = table.resolve(wallSeconds: seconds, policy: policy)
        case .shifted(let table, let shift):
            (utcSeconds, resolution) = table.resolve(wallSeconds: seconds - shift, policy: policy)
        }
        return (utcSeconds * 1000 + remainder, resolution)
    }

    /// The server wall-clock time (milliseconds, MetaTrader style) at a UTC instant: what a bridge reports as
    /// `server_time_ms`. Unlike the other direction this is always unique. Never traps: a time outside
    /// `convertibleMilliseconds` is clamped to it.
    public func serverMilliseconds(fromUTCMilliseconds utcMilliseconds: Int64) -> Int64 {
        let utcMilliseconds = utcMilliseconds.clamped(to: Self.convertibleMilliseconds)
        let seconds = utcMilliseconds >= 0 ? utcMilliseconds / 1000 : (utcMilliseconds - 999) / 1000
        switch rule {
        case .fixed(let offset): return utcMilliseconds + offset * 1000
        case .transitions(let table): return utcMilliseconds + table.offset(atUTC: seconds) * 1000
        case .shifted(let table, let shift): return utcMilliseconds + (table.offset(atUTC: seconds) + shift) * 1000
        }
    }

    /// `+02:00`, `-0530`, `+3`, `UTC+02:00`, `GMT+3` → seconds east of UTC.
    static func parseFixedOffset(_ text: String) -> Int64? {
        var body = Substring(text)
        for prefix in ["UTC", "GMT"] where body.hasPrefix(prefix) { body = body.dropFirst(prefix.count) }
        guard let signCharacter = body.first, signCharacter == "+" || signCharacter == "-" else { return nil }
        body = body.dropFirst()
        let parts = body.split(separator: ":", omittingEmptySubsequences: false)
        let hoursText: Substring, minutesText: Substring
        switch parts.count {
        case 1 where body.count == 4: (hoursText, minutesText) = (body.prefix(2), body.suffix(2))
        case 1: (hoursText, minutesText) = (body, "0")
        case 2: (hoursText, minutesText) = (parts[0], parts[1])
        default: return nil
        }
        guard hoursText.count <= 2, minutesText.count <= 2, hoursText.allSatisfy(\.isASCIIDigitCharacter), minutesText.allSatisfy(\.isASCIIDigitCharacter),
            let hours = Int64(hoursText), let minutes = Int64(minutesText), hours <= 14, minutes < 60
        else { return nil }
        let seconds = hours * 3600 + minutes * 60
        return signCharacter == "-" ? -seconds : seconds
    }
}

extension Int64 {
    /// This value, or the nearer end of `range` when it lies outside.
    func clamped(to range: ClosedRange<Int64>) -> Int64 { Swift.min(Swift.max(self, range.lowerBound), range.upperBound) }
}

extension Character {
    var isASCIIDigitCharacter: Bool { ("0"..."9").contains(self) }
}

/// A zone's UTC offsets as a table of transitions, built once from Foundation's time zone data and then
/// searched in memory: converting millions of deals needs no calls into ICU per deal.
private struct OffsetTable: Sendable, Hashable {
    let identifier: String
    /// Offset in force before the first transition.
    let initialOffset: Int64
    /// UTC seconds at which the offset changes, ascending, and the offset from that instant on.
    let transitionInstants: [Int64]
    let offsetsAfter: [Int64]

    /// Transitions are collected from 1970 up to 2100.
    init?(identifier: String) {
        guard let zone = TimeZone(identifier: identifier) else { return nil }
        self.identifier = identifier
        let start = Date(timeIntervalSince1970: 0)
        let end = Date(timeIntervalSince1970: 4_102_444_800)  // 2100-01-01
        initialOffset = Int64(zone.secondsFromGMT(for: start))
        var instants: [Int64] = []
        var offsets: [Int64] = []
        var cursor = start
        while let next = zone.nextDaylightSavingTimeTransition(after: cursor), next < end {
            let offset = Int64(zone.secondsFromGMT(for: next))
            if offset != (offsets.last ?? initialOffset) {
                instants.append(Int64(next.timeIntervalSince1970.rounded()))
                offsets.append(offset)
            }
            cursor = next
        }
        transitionInstants = instants
        offsetsAfter = offsets
    }

    func offset(atUTC instant: Int64) -> Int64 {
        // Index of the last transition at or before `instant`.
        var low = 0, high = transitionInstants.count
        while low < high {
            let middle = (low + high) / 2
            if transitionInstants[middle] <= instant { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? initialOffset : offsetsAfter[low - 1]
    }

    func resolve(wallSeconds wall: Int64, policy: ServerTimeZone.AmbiguousTimePolicy) -> (Int64, ServerTimeZone.Resolution) {
        // Offsets in force a day either side bracket any single transition near this wall time.
        let before = offset(atUTC: wall - 86_400)
        let after = offset(atUTC: wall + 86_400)
        let candidateBefore = wall - before
        let candidateAfter = wall - after
        let beforeValid = offset(atUTC: candidateBefore) == before
        let afterValid = offset(atUTC: candidateAfter) == after
        if before == after || (beforeValid != afterValid) {
            return (beforeValid ? candidateBefore : candidateAfter, .unique)
        }
        if beforeValid && afterValid {
            let earlier = min(candidateBefore, candidateAfter), later = max(candidateBefore, candidateAfter)
            return (policy == .earlier ? earlier : later, .overlap)
        }
        // Neither offset yields this wall time: it fell in a gap. Reading it with the offset in force before
        // the switch moves it forward by the gap's length.
        return (candidateBefore, .gap)
    }
}
