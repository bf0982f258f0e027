import MTSyncCore
import Testing

/// Issue 20, finding 2: one extreme value crashed the daemon (SIGILL, arithmetic overflow). No value from outside may
/// trap: each is converted with checked arithmetic and must lie in the plausible window, or it is quarantined.
@Suite("Extreme times and the plausible window")
struct PlausibleTimesTests {
    /// Zones west and east of UTC: west is where `Int64.max` overflowed (`seconds - offset` grows past Int64's ms).
    static let zones = ["-05:00", "America/New_York", "-12:00", "+14:00", "ny-close", "Europe/Athens", "UTC", "-00:30"]
    static let extremes: [Int64] = [
        .max, .max - 1, .max / 1000, .max / 1000 + 1, .max / 1000 * 1000, 253_402_300_799_999, 0, -1, .min, .min + 1, .min / 1000,
        ServerTimeZone.convertibleMilliseconds.upperBound, ServerTimeZone.convertibleMilliseconds.upperBound + 1,
        ServerTimeZone.convertibleMilliseconds.lowerBound - 1,
    ]

    static let server = try! ServerID("live-mt5")
    /// 2026-12-06T12:00:00Z, the clock of these tests.
    static let utcNow: Int64 = 1_796_558_400_000

    static func normalizer(_ zone: String, platform: Platform = .mt5) -> Normalizer {
        Normalizer(settings: ServerSettings(server: server, platform: platform, zone: ServerTimeZone(zone)!))
    }

    static func window(_ zone: String) -> PlausibleTimes {
        let rule = PlausibleTimeRule.standard
        return rule.window(at: rule.serverClock(reported: nil, utcNowMilliseconds: utcNow, zone: ServerTimeZone(zone)!))
    }

    @Test("converting any Int64 either way never traps, and stays where the zones convert", arguments: zones)
    func conversionsAtTheExtremes(zone: String) {
        let zone = ServerTimeZone(zone)!
        for value in Self.extremes {
            for policy in [ServerTimeZone.AmbiguousTimePolicy.earlier, .later] {
                let utc = zone.utcMilliseconds(fromServerMilliseconds: value, policy: policy).utcMilliseconds
                #expect(utc.magnitude <= ServerTimeZone.convertibleMilliseconds.upperBound.magnitude + 2 * 86_400_000)
            }
            let server = zone.serverMilliseconds(fromUTCMilliseconds: value)
            #expect(server.magnitude <= ServerTimeZone.convertibleMilliseconds.upperBound.magnitude + 2 * 86_400_000)
        }
    }

    @Test("inside the convertible range the conversions are exact and round-trip at both ends", arguments: zones)
    func exactAtTheEnds(zone: String) {
        let zone = ServerTimeZone(zone)!
        for utc in [Int64(253_402_300_799_999), 946_684_800_000, 1] {
            #expect(zone.utcMilliseconds(fromServerMilliseconds: zone.serverMilliseconds(fromUTCMilliseconds: utc)).utcMilliseconds == utc)
        }
    }

    @Test("TimeMsc at the extremes is refused as implausible, never a trap", arguments: zones, extremes)
    func timeMscExtremes(zone: String, value: Int64) {
        let outcome = Self.normalizer(zone).normalize(
            MT5DealRecord(fields: ["Deal": "1", "Login": "2", "Action": "0", "Entry": "0", "TimeMsc": "\(value)", "VolumeExt": "100000000"]),
            within: Self.window(zone))
        if value > 0 {
            guard case .rejected(let rejection) = outcome else { Issue.record("\(outcome)"); return }
            #expect(rejection.field == "TimeMsc" && rejection.rule == .timeImplausible && rejection.code == "timeImplausible")
            #expect(rejection.description.contains("server time 2000-01-01T00:00:00.000 to "), "the reason names the window")
        } else {
            // Zero and negative TimeMsc fall back to Time, which is absent here.
            guard case .rejected(let rejection) = outcome else { Issue.record("\(outcome)"); return }
            #expect(rejection.rule == .missing)
        }
    }

    @Test("a record with only Time: Time × 1000 is checked, the maximal time west of UTC refused", arguments: zones, [
        Int64.max, Int64.max / 1000, Int64.max / 1000 - 1, 253_402_300_799, 946_684_799,
    ] as [Int64])
    func onlyTime(zone: String, seconds: Int64) {
        let record = MT5DealRecord(fields: ["Deal": "1", "Login": "2", "Action": "2", "Time": "\(seconds)", "Profit": "10"])
        for times in [Self.window(zone), PlausibleTimes.convertible] {
            let outcome = Self.normalizer(zone).normalize(record, within: times)
            if times == .convertible, seconds == 253_402_300_799 || seconds == 946_684_799 {
                // Convertible: without a window those are ordinary (if odd) times.
                guard case .facts = outcome else { Issue.record("\(outcome)"); continue }
            } else {
                guard case .rejected(let rejection) = outcome else { Issue.record("\(outcome)"); continue }
                #expect(rejection.field == "Time" && rejection.rule == .timeImplausible)
            }
        }
    }

    @Test("MT4 open_time and close_time at the extremes are refused as implausible", arguments: zones, [
        ("open_time", Int64.max), ("close_time", Int64.max), ("close_time", Int64.max / 1000), ("close_time", 253_402_300_799), ("open_time", 946_684_799),
    ] as [(String, Int64)])
    func mt4Extremes(zone: String, field: (String, Int64)) {
        var fields = ["order": "1", "login": "2", "cmd": "0", "volume": "100", "open_time": "1735725600", "close_time": "1735732800"]
        fields[field.0] = "\(field.1)"
        let outcome = Self.normalizer(zone, platform: .mt4).normalize(MT4TradeRecord(fields: fields), within: Self.window(zone))
        guard case .rejected(let rejection) = outcome else { Issue.record("\(outcome)"); return }
        #expect(rejection.field == field.0 && rejection.rule == .timeImplausible)
    }

    @Test("the window's edges: 2000-01-01 is in, a millisecond before is out; a day past the server clock is in, a millisecond more is out")
    func windowEdges() {
        let window = Self.window("-05:00")
        let serverNow = ServerTimeZone("-05:00")!.serverMilliseconds(fromUTCMilliseconds: Self.utcNow)
        #expect(window.earliestServerMilliseconds == 946_684_800_000)
        #expect(window.latestServerMilliseconds == serverNow + 86_400_000)
        let normalizer = Self.normalizer("-05:00")
        func outcome(_ time: Int64) -> NormalizationOutcome {
            normalizer.normalize(MT5DealRecord(fields: ["Deal": "1", "Login": "2", "Action": "2", "TimeMsc": "\(time)", "Profit": "1"]), within: window)
        }
        for inside in [window.earliestServerMilliseconds, window.latestServerMilliseconds, serverNow] {
            guard case .facts = outcome(inside) else { Issue.record("\(inside): \(outcome(inside))"); continue }
        }
        for outside in [window.earliestServerMilliseconds - 1, window.latestServerMilliseconds + 1] {
            guard case .rejected(let rejection) = outcome(outside), rejection.rule == .timeImplausible else { Issue.record("\(outside): \(outcome(outside))"); continue }
        }
    }

    @Test("the bridge's clock is used only when plausible; Int64.max, 0 and 1999 fall back to mtsync's own clock in the zone", arguments: [
        Int64.max, 0, 946_684_799_999, Int64.min, -1, 9_999_999_999_999,
    ] as [Int64])
    func implausibleBridgeClock(reported: Int64) {
        for zone in Self.zones.map({ ServerTimeZone($0)! }) {
            let clock = PlausibleTimeRule.standard.serverClock(reported: reported, utcNowMilliseconds: Self.utcNow, zone: zone)
            #expect(clock.source == .own && clock.distrusted == reported)
            #expect(clock.nowMilliseconds == zone.serverMilliseconds(fromUTCMilliseconds: Self.utcNow))
            let window = PlausibleTimeRule.standard.window(at: clock)
            #expect(window.latestServerMilliseconds == clock.nowMilliseconds + 86_400_000)
        }
    }

    @Test("a plausible bridge clock ahead of mtsync's is used; one behind it cannot shut out the records of now")
    func plausibleBridgeClock() {
        let zone = ServerTimeZone("+02:00")!
        let own = zone.serverMilliseconds(fromUTCMilliseconds: Self.utcNow)
        let ahead = PlausibleTimeRule.standard.serverClock(reported: own + 5_000, utcNowMilliseconds: Self.utcNow, zone: zone)
        #expect(ahead == ServerClock(nowMilliseconds: own + 5_000, source: .bridge))
        let behind = PlausibleTimeRule.standard.serverClock(reported: own - 3 * 86_400_000, utcNowMilliseconds: Self.utcNow, zone: zone)
        #expect(behind == ServerClock(nowMilliseconds: own, source: .own))
    }

    @Test("the window saturates instead of overflowing: a huge ahead and a clock at the limit stay convertible")
    func windowSaturates() {
        let rule = PlausibleTimeRule(earliestServerMilliseconds: 0, ahead: .seconds(Int64.max))
        #expect(rule.aheadMilliseconds == .max)
        let window = rule.window(serverNowMilliseconds: .max)
        #expect(window.latestServerMilliseconds == ServerTimeZone.convertibleMilliseconds.upperBound)
        #expect(window.earliestServerMilliseconds == 1)
        #expect(Int64.max.saturatingAdding(60_000) == .max && Int64.min.saturatingSubtracting(1) == .min)
        #expect(Int64(5).saturatingAdding(-7) == -2 && Int64.min.saturatingAdding(-1) == .min && Int64.max.saturatingSubtracting(-1) == .max)
    }

    @Test("a configurable window: earliest 1995, ahead 1h")
    func configuredWindow() {
        let rule = PlausibleTimeRule(earliestServerMilliseconds: 788_918_400_000, ahead: .seconds(3_600))
        let window = rule.window(serverNowMilliseconds: 1_796_558_400_000)
        #expect(window == PlausibleTimes(earliestServerMilliseconds: 788_918_400_000, latestServerMilliseconds: 1_796_562_000_000))
        #expect(rule.description == "from 1995-01-01, up to 1h ahead")
        #expect(PlausibleTimeRule.standard.description == "from 2000-01-01, up to 1d ahead")
    }
}
