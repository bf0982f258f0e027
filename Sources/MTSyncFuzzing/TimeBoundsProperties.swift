import MTSyncBridge
import MTSyncCore

/// What a decoded record's times and a bridge's clock meet after decoding: the zone conversions, the plausible-times
/// window and the normalizer, under zones west and east of UTC (issue 20: `TimeMsc` = Int64.max at `-05:00`
/// overflowed the conversion; the fuzzers normalized only under Athens and ny-close, both east, and never saw it).
///
/// Besides "no trap", for every record and zone:
/// - a record whose time lies outside the window is never a fact (quarantined or skipped, never stored);
/// - every fact's server time lies in the window, and its UTC time is the zone's conversion of it, within a day;
/// - a bridge clock (`server_time_ms`) is trusted only when plausible, and the clock used never leaves the range
///   the zones convert.
enum TimeBoundsProperties {
    /// West of UTC first (where the overflow was), then east; `America/New_York` and `ny-close` with DST.
    static let westZones = ["-05:00", "America/New_York", "-12:00", "-00:30"].map { ServerTimeZone($0)! }
    static let eastZones = ["+14:00", "ny-close", "Europe/Athens", "UTC"].map { ServerTimeZone($0)! }
    static let zones = westZones + eastZones
    static let rule = PlausibleTimeRule.standard
    /// mtsync's clock in the fuzzed runs (the session's `now`): 2025-01-01T10:00:00.456Z.
    static let utcNow = SessionDriver.now

    struct Setup {
        let zone: ServerTimeZone
        let window: PlausibleTimes
        let mt5: Normalizer
        let mt4: Normalizer
    }

    static let setups: [Setup] = zones.map { zone in
        let window = rule.window(at: rule.serverClock(reported: nil, utcNowMilliseconds: utcNow, zone: zone))
        return Setup(
            zone: zone, window: window,
            mt5: Normalizer(settings: ServerSettings(server: try! ServerID("fuzz-mt5"), platform: .mt5, zone: zone)),
            mt4: Normalizer(settings: ServerSettings(server: try! ServerID("fuzz-mt4"), platform: .mt4, zone: zone)))
    }

    /// One zone west and one east of UTC, taken by `selector` (the caller's hash or length), so every zone is
    /// reached across the run without normalizing each record eight times.
    static func chosen(_ selector: Int) -> [Setup] {
        let west = selector.magnitude % UInt(westZones.count), east = (selector.magnitude / 4) % UInt(eastZones.count)
        return [setups[Int(west)], setups[westZones.count + Int(east)]]
    }

    static func check(_ deal: MT5DealRecord, selector: Int, outcome: inout FuzzOutcome) throws(PropertyViolation) {
        // The time the normalizer takes: TimeMsc when positive, else Time × 1000.
        var time: (value: Int64?, field: String)?
        if let msc = deal.timeMsc.flatMap({ Int64($0) }), msc > 0 {
            time = (msc, "TimeMsc")
        } else if let seconds = deal.time.flatMap({ Int64($0) }), seconds > 0 {
            let (product, overflow) = seconds.multipliedReportingOverflow(by: 1000)
            time = (overflow ? nil : product, "Time")
        }
        convertEverywhere(deal.timeMsc, deal.time)
        for setup in chosen(selector) {
            let result = setup.mt5.normalize(deal, within: setup.window)
            try checkFacts(result, setup: setup, implausible: time.map { $0.value.map { !setup.window.contains($0) } ?? true } ?? false, outcome: &outcome)
        }
    }

    static func check(_ trade: MT4TradeRecord, selector: Int, outcome: inout FuzzOutcome) throws(PropertyViolation) {
        func milliseconds(_ text: String?) -> Int64?? {
            guard let seconds = text.flatMap({ Int64($0) }), seconds > 0 else { return nil }
            let (product, overflow) = seconds.multipliedReportingOverflow(by: 1000)
            return .some(overflow ? nil : product)
        }
        let times = [milliseconds(trade.openTime), milliseconds(trade.closeTime)].compactMap { $0 }
        convertEverywhere(trade.openTime, trade.closeTime)
        for setup in chosen(selector) {
            let result = setup.mt4.normalize(trade, within: setup.window)
            let implausible = times.contains { $0.map { !setup.window.contains($0) } ?? true }
            try checkFacts(result, setup: setup, implausible: implausible, outcome: &outcome)
        }
    }

    static func checkFacts(_ result: NormalizationOutcome, setup: Setup, implausible: Bool, outcome: inout FuzzOutcome) throws(PropertyViolation) {
        switch result {
        case .facts(let facts):
            try require(!implausible, "a record with a time outside the plausible window is never stored", "\(facts.first.map { "\($0.serverTimeMilliseconds)" } ?? "-") in \(setup.window) at \(setup.zone)")
            for fact in facts {
                try require(setup.window.contains(fact.serverTimeMilliseconds), "a fact's server time lies in the window", "\(fact.serverTimeMilliseconds) in \(setup.window)")
                let utc = setup.zone.utcMilliseconds(fromServerMilliseconds: fact.serverTimeMilliseconds, policy: .earlier).utcMilliseconds
                try require(fact.timeUTCMilliseconds == utc, "a fact's UTC time is its zone's conversion", "\(fact.timeUTCMilliseconds) vs \(utc) at \(setup.zone)")
                try require((fact.timeUTCMilliseconds - fact.serverTimeMilliseconds).magnitude <= 86_400_000, "a zone moves a time by less than a day", "\(fact.serverTimeMilliseconds) → \(fact.timeUTCMilliseconds) at \(setup.zone)")
            }
            outcome.add("time ok \(setup.zone)")
        case .rejected(let rejection):
            if rejection.rule == .timeImplausible {
                try require(implausible, "only a time outside the window is refused as implausible", "\(rejection) in \(setup.window)")
                outcome.add("time implausible \(setup.zone)")
            }
        case .skipped:
            break
        }
    }

    /// Every zone both ways on the raw values, whatever they are (negative, Int64.min, Int64.max): no trap, and the
    /// result stays in the range a zone converts.
    static func convertEverywhere(_ texts: String?...) {
        for text in texts {
            guard let value = text.flatMap({ Int64($0) }) else { continue }
            for setup in setups {
                _ = setup.zone.utcMilliseconds(fromServerMilliseconds: value, policy: .later)
                _ = setup.zone.serverMilliseconds(fromUTCMilliseconds: value)
            }
        }
    }

    /// A `server_info` record's clock, as `ServerSync.pull` reads it: trusted only when plausible; the reading used,
    /// the pull's range end and the window computed from it never trap and stay where a zone converts.
    static func checkServerInfo(_ data: JSONValue, outcome: inout FuzzOutcome) throws(PropertyViolation) {
        let text = data["server_time_ms"]?.text
        let reported = text.flatMap { Int64($0) }
        convertEverywhere(text, data["utc_time_ms"]?.text)
        for setup in chosen(text?.utf8.count ?? 0) {
            let clock = rule.serverClock(reported: reported, utcNowMilliseconds: utcNow, zone: setup.zone)
            let own = setup.zone.serverMilliseconds(fromUTCMilliseconds: utcNow)
            try require(
                clock.nowMilliseconds >= own && clock.nowMilliseconds <= own.saturatingAdding(rule.aheadMilliseconds),
                "the clock a pull uses is mtsync's own or a plausible bridge's", "\(clock) for \(String(describing: reported)) at \(setup.zone)")
            try require((clock.distrusted == nil) == (reported.map { rule.window(serverNowMilliseconds: own).contains($0) } ?? true), "an implausible bridge clock is distrusted", "\(clock)")
            let window = rule.window(at: clock)
            try require(window.earliestServerMilliseconds <= window.latestServerMilliseconds, "the window is not empty", "\(window)")
            _ = clock.nowMilliseconds.saturatingAdding(60_000)
            outcome.add(clock.distrusted == nil ? "clock \(clock.source)" : "clock distrusted")
        }
    }
}
