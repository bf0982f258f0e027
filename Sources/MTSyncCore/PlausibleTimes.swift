/// The server times (milliseconds, MetaTrader style: the server's wall clock read as UTC) a record may carry to
/// be stored: from `earliestServerMilliseconds` to `latestServerMilliseconds`, both included. A record outside is
/// quarantined with the reason (`timeImplausible`), never stored: a deal stamped in 9999 would otherwise become the
/// cursor, sit in a far-future partition and show in every report, and `Int64.max` used to overflow the zone
/// conversion and crash the daemon (issue 20).
///
/// Built per page or pull from the server's `PlausibleTimeRule` and its clock (`ServerClock`): the normalizer
/// takes the window and stays pure.
public struct PlausibleTimes: Sendable, Hashable, CustomStringConvertible {
    public var earliestServerMilliseconds: Int64
    public var latestServerMilliseconds: Int64

    public init(earliestServerMilliseconds: Int64, latestServerMilliseconds: Int64) {
        self.earliestServerMilliseconds = earliestServerMilliseconds
        self.latestServerMilliseconds = latestServerMilliseconds
    }

    /// Every time a zone can convert (`ServerTimeZone.convertibleMilliseconds`, after 1970): what a normalizer
    /// checks when it is given no window (`mtsync normalize` without a clock, tests). Still no trap, however wild.
    public static let convertible = PlausibleTimes(
        earliestServerMilliseconds: 1, latestServerMilliseconds: ServerTimeZone.convertibleMilliseconds.upperBound)

    public func contains(_ serverMilliseconds: Int64) -> Bool {
        serverMilliseconds >= earliestServerMilliseconds && serverMilliseconds <= latestServerMilliseconds
    }

    /// `2000-01-01T00:00:00.000 to 2026-12-07T09:00:00.000 server time`.
    public var description: String {
        "\(ServerTimeText.iso8601(milliseconds: earliestServerMilliseconds)) to \(ServerTimeText.iso8601(milliseconds: latestServerMilliseconds)) server time"
    }
}

/// A server's setting for `PlausibleTimes` (`plausible_times` in the configuration): records may be no older than
/// `earliest` and no more than `ahead` past the server's clock.
public struct PlausibleTimeRule: Sendable, Hashable, CustomStringConvertible {
    /// Server time, ms; default 2000-01-01T00:00 (no MetaTrader 4 or 5 server has history before it).
    public var earliestServerMilliseconds: Int64
    /// How far past the server's clock a record may be stamped, ms; default one day.
    public var aheadMilliseconds: Int64

    public static let defaultEarliest: Int64 = 946_684_800_000
    public static let defaultAhead: Int64 = 86_400_000
    public static let standard = PlausibleTimeRule()

    public init(earliestServerMilliseconds: Int64 = defaultEarliest, aheadMilliseconds: Int64 = defaultAhead) {
        self.earliestServerMilliseconds = earliestServerMilliseconds
        self.aheadMilliseconds = aheadMilliseconds
    }

    public init(earliestServerMilliseconds: Int64 = defaultEarliest, ahead: Duration) {
        let (whole, overflow) = ahead.components.seconds.multipliedReportingOverflow(by: 1000)
        self.init(earliestServerMilliseconds: earliestServerMilliseconds, aheadMilliseconds: overflow ? Int64.max : max(0, whole))
    }

    /// The window at a server clock reading: `[earliest, now + ahead]`, within what a zone can convert (the sum
    /// saturates rather than overflow).
    public func window(serverNowMilliseconds now: Int64) -> PlausibleTimes {
        let (latest, overflow) = now.addingReportingOverflow(aheadMilliseconds)
        let limit = PlausibleTimes.convertible
        return PlausibleTimes(
            earliestServerMilliseconds: earliestServerMilliseconds.clamped(to: limit.earliestServerMilliseconds...limit.latestServerMilliseconds),
            latestServerMilliseconds: overflow ? limit.latestServerMilliseconds : latest.clamped(to: limit.earliestServerMilliseconds...limit.latestServerMilliseconds))
    }

    /// The window at `clock`.
    public func window(at clock: ServerClock) -> PlausibleTimes { window(serverNowMilliseconds: clock.nowMilliseconds) }

    /// What the server's clock is taken to be: the bridge's `server_time_ms` when it is plausible itself — not
    /// before `earliest`, not more than `ahead` past mtsync's own clock in the server's zone — else mtsync's own
    /// clock in the server's zone. A bridge whose clock lags behind mtsync's cannot shut out the records of now:
    /// the later of the two readings is used.
    public func serverClock(reported: Int64?, utcNowMilliseconds: Int64, zone: ServerTimeZone) -> ServerClock {
        let own = zone.serverMilliseconds(fromUTCMilliseconds: utcNowMilliseconds)
        guard let reported else { return ServerClock(nowMilliseconds: own, source: .own, distrusted: nil) }
        guard window(serverNowMilliseconds: own).contains(reported) else {
            return ServerClock(nowMilliseconds: own, source: .own, distrusted: reported)
        }
        return reported >= own ? ServerClock(nowMilliseconds: reported, source: .bridge, distrusted: nil) : ServerClock(nowMilliseconds: own, source: .own, distrusted: nil)
    }

    /// `from 2000-01-01, up to 1d ahead` style, for `check-config`.
    public var description: String {
        let earliest = ServerTimeText.iso8601(milliseconds: earliestServerMilliseconds)
        let text = earliest.hasSuffix("T00:00:00.000") ? String(earliest.prefix(10)) : earliest
        let ahead = aheadMilliseconds % 86_400_000 == 0 ? "\(aheadMilliseconds / 86_400_000)d"
            : aheadMilliseconds % 3_600_000 == 0 ? "\(aheadMilliseconds / 3_600_000)h"
            : aheadMilliseconds % 60_000 == 0 ? "\(aheadMilliseconds / 60_000)m" : "\(aheadMilliseconds / 1000)s"
        return "from \(text), up to \(ahead) ahead"
    }
}

/// A reading of a trade server's clock (server time, ms) and where it came from.
public struct ServerClock: Sendable, Hashable {
    public enum Source: String, Sendable, Hashable {
        /// The bridge's `server_time_ms`.
        case bridge
        /// mtsync's own clock converted with the server's zone rule.
        case own
    }

    public var nowMilliseconds: Int64
    public var source: Source
    /// The bridge's reading when it was refused as implausible (Int64.max, before 2000, far ahead): the caller
    /// warns with it.
    public var distrusted: Int64?

    public init(nowMilliseconds: Int64, source: Source, distrusted: Int64? = nil) {
        self.nowMilliseconds = nowMilliseconds
        self.source = source
        self.distrusted = distrusted
    }
}
