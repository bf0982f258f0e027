import Foundation
import MTSyncCore

/// Checks a live bridge against bridge-protocol/README.md the way mtsync will use it: handshake, `server.info`,
/// every record of a range in order and inside the range, the bridge's own digest against one computed from
/// those records, and the optional `accounts` and `symbols`. What `mtsync bridge check` prints, so a broker's
/// engineers can test their bridge before mtsync syncs from it.
public struct BridgeConformanceCheck: Sendable {
    public struct Report: Sendable, Codable, Hashable {
        public var endpoint: String
        public var serverID: String?
        public var platform: String?
        public var capabilities: [String] = []
        public var timeZoneRule: String?
        /// Server clock minus UTC, in minutes, from `server.info` (what the zone rule should explain).
        public var serverClockOffsetMinutes: Int64?
        public var fromMilliseconds: Int64
        public var toMilliseconds: Int64
        public var records = 0
        public var pages = 0
        public var digestBuckets = 0
        public var digestBucketsMatching = 0
        public var accounts: Int?
        public var accountsWithoutClientID: Int?
        public var symbols: Int?
        /// Per stream, the mandatory fields (`BridgeConformanceCheck.mandatoryFields`) records lacked, with how many
        /// records lacked each.
        public var missingFields: [String: [String: Int]] = [:]
        /// Everything that disagrees with the spec; empty when the bridge conforms on this range.
        public var problems: [String] = []
        /// What conforms but will likely be wrong in production: a zone rule that does not explain the server's
        /// clock, or that differs from the zone mtsync is configured with (§4.1). Shown, not counted as problems.
        public var warnings: [String] = []

        public var conforms: Bool { problems.isEmpty }
    }

    /// The fields each stream's records MUST carry (bridge-protocol §4.2–§4.5): a bridge that leaves one out
    /// does not conform, even when mtsync could store what it sent (a missing `ContractSize` or `DigitsCurrency`
    /// is a fact without its contract size, a money amount without its precision).
    public static let mandatoryFields: [String: [String]] = [
        "deals": [
            "Deal", "Login", "Order", "PositionID", "Action", "Entry", "Reason", "Time", "TimeMsc", "Symbol", "Volume", "VolumeExt", "Price",
            "Profit", "Storage", "Commission", "Fee", "ContractSize", "Digits", "DigitsCurrency", "Comment", "ExternalID",
        ],
        "trades": [
            "order", "login", "symbol", "digits", "cmd", "volume", "open_time", "close_time", "open_price", "close_price", "sl", "tp",
            "commission", "commission_agent", "storage", "profit", "taxes", "magic", "comment", "reason",
        ],
        "accounts": ["login", "group", "currency", "leverage"],
        "symbols": ["symbol", "base_currency", "profit_currency", "contract_size", "digits"],
    ]

    /// Counts, per mandatory field of `stream`, the records that lack it (`value(fieldAt:)` nil: absent or null).
    /// MT4's `reason` may come as `state` (§4.3).
    static func countMissing<Record: RawFieldRecord>(_ records: [Record], stream: String, into report: inout Report) {
        guard let fields = mandatoryFields[stream] else { return }
        for record in records {
            for field in fields {
                guard let index = Record.fieldIndex[field], record.value(fieldAt: index) == nil else { continue }
                if field == "reason", let state = Record.fieldIndex["state"], record.value(fieldAt: state) != nil { continue }
                report.missingFields[stream, default: [:]][field, default: 0] += 1
            }
        }
    }

    /// One problem per stream that lacks mandatory fields, naming each with how many records lacked it.
    static func reportMissing(_ report: inout Report, records: [String: Int]) {
        for (stream, missing) in report.missingFields.sorted(by: { $0.key < $1.key }) where !missing.isEmpty {
            let section = ["deals": "§4.2", "trades": "§4.3", "accounts": "§4.4", "symbols": "§4.5"][stream] ?? "§4"
            let fields = missing.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value) of \(records[stream] ?? 0))" }
            report.problems.append("\(stream) records lack mandatory fields (\(section)): \(fields.joined(separator: ", "))")
        }
    }

    public let client: BridgeClient
    public var pageSize: Int
    /// Problems listed per kind before the rest are only counted.
    public var problemLimit = 10
    /// The zone mtsync is (or will be) configured with for this server: checked against the bridge's rule and
    /// clock when given.
    public var configuredZone: ServerTimeZone?

    /// Offsets closer than this are the same zone seen through clocks that drift: no trade server's zone differs
    /// from another by less than 15 minutes, and a server clock a few minutes off is common and harmless here.
    static let zoneTolerance: Int64 = 15

    public init(client: BridgeClient, pageSize: Int = 1_000, configuredZone: ServerTimeZone? = nil) {
        self.client = client
        self.pageSize = pageSize
        self.configuredZone = configuredZone
    }

    /// Runs the checks on `[from, to)` (server time, milliseconds); nil bounds: the last whole server day.
    public func run(fromMilliseconds: Int64? = nil, toMilliseconds: Int64? = nil) async throws -> Report {
        let hour: Int64 = 3_600_000, day: Int64 = 86_400_000
        let (welcome, info) = try await client.withRetries { connection in
            (connection.welcome, try await connection.serverInfo())
        }
        var serverNow = info["server_time_ms"]?.text.flatMap { Int64($0) }
        let utcNow = info["utc_time_ms"]?.text.flatMap { Int64($0) }
        // A clock no trade server can show (before 2000, or further ahead of this machine's than any zone and a day
        // allow) is reported, and the default range is taken from this machine's clock instead (issue 20).
        var clockProblem: String?
        if let reported = serverNow, !Self.plausibleClock(reported) {
            clockProblem = "server.info's server_time_ms \(reported) is not a plausible server clock (before 2000, or more than a day ahead of this machine's): the trade server's clock or the bridge is wrong (§4.1)"
            serverNow = nil
        }
        let defaultTo = ((serverNow ?? Self.machineClockMilliseconds()) / day) * day
        // Digest buckets are whole hours: widen the range to hour boundaries.
        let from = Self.floor(fromMilliseconds ?? defaultTo - day, to: hour)
        let to = Self.ceiling(toMilliseconds ?? defaultTo, to: hour)
        var report = Report(endpoint: client.endpoint.description, fromMilliseconds: from, toMilliseconds: to)
        report.serverID = welcome?.serverID
        report.platform = welcome?.platform.rawValue
        report.capabilities = welcome?.capabilities ?? []
        report.timeZoneRule = info["time_zone"]?["rule"]?.text
        if let serverNow, let utcNow { report.serverClockOffsetMinutes = serverNow.saturatingSubtracting(utcNow).saturatingAdding(30_000) / 60_000 }
        if let clockProblem {
            report.problems.append(clockProblem)
        } else if serverNow == nil || utcNow == nil {
            report.problems.append("server.info lacks server_time_ms or utc_time_ms (§4.1)")
        }
        if clockProblem == nil, let serverNow, let utcNow {
            report.warnings += Self.zoneWarnings(rule: report.timeZoneRule, serverNow: serverNow, utcNow: utcNow, configured: configuredZone)
        }
        if info["platform"]?.text != welcome?.platform.rawValue {
            report.problems.append("server.info says platform \(info["platform"]?.text ?? "none") but welcome says \(welcome?.platform.rawValue ?? "none")")
        }
        guard from < to else {
            report.problems.append("the range is empty")
            return report
        }

        // Every record of the range, checked for order and bounds, digested per hour as the spec says.
        let isMT4 = welcome?.platform == .mt4
        var history = HistoryCheck(report: report, problemLimit: problemLimit, bucketMilliseconds: hour)
        if isMT4 {
            try await history.read(client.closedTrades(fromMilliseconds: from, toMilliseconds: to, pageSize: pageSize), stream: "trades") { trade in
                guard let time = trade.closeTime.flatMap({ Int64($0) }), let order = trade.order.flatMap({ UInt64($0) }), let line = DigestChecksum.canonicalLine(trade) else {
                    return .unreadable("trade \(trade.order ?? "?") lacks a numeric order, close_time or key field")
                }
                let (milliseconds, overflow) = time.multipliedReportingOverflow(by: 1000)
                return .readable(
                    order: (time, order), milliseconds: overflow || milliseconds < from || milliseconds >= to ? nil : milliseconds, line: line,
                    outOfOrder: { last in "trade \(order) comes after \(last): not in ascending (close_time, order) order (§4.3)" },
                    outsideRange: "trade \(order) closes at \(time) s, outside [from_ms, to_ms)")
            }
        } else {
            try await history.read(client.deals(fromMilliseconds: from, toMilliseconds: to, pageSize: pageSize), stream: "deals") { deal in
                guard let time = deal.timeMsc.flatMap({ Int64($0) }), let ticket = deal.deal.flatMap({ UInt64($0) }), let line = DigestChecksum.canonicalLine(deal) else {
                    return .unreadable("deal \(deal.deal ?? "?") lacks a numeric Deal, TimeMsc or key field")
                }
                return .readable(
                    order: (time, ticket), milliseconds: time < from || time >= to ? nil : time, line: line,
                    outOfOrder: { last in "deal \(ticket) comes after \(last): not in ascending (TimeMsc, Deal) order (§4.2)" },
                    outsideRange: "deal \(ticket) has TimeMsc \(time), outside [from_ms, to_ms)")
            }
        }
        report = history.report
        let buckets = history.buckets
        func note(_ count: inout Int, _ text: @autoclosure () -> String) {
            count += 1
            if count <= problemLimit { report.problems.append(text()) }
        }

        if report.capabilities.contains("digest") {
            var digestProblems = 0
            var start = from
            while start < to {
                // At most 744 buckets per request (§4.7).
                let end = min(to, start + 744 * hour), start0 = start
                let remote = try await client.withRetries { connection in
                    try await connection.digest(stream: isMT4 ? "trades" : "deals", fromMilliseconds: start0, toMilliseconds: end, bucketMilliseconds: hour)
                }
                let expectedBuckets = Int((end - start) / hour)
                if remote.count != expectedBuckets { note(&digestProblems, "digest returned \(remote.count) buckets for \(expectedBuckets) hours (empty buckets must be sent too, §4.7)") }
                for bucket in remote {
                    report.digestBuckets += 1
                    let local = buckets[bucket.fromMilliseconds] ?? DigestChecksum()
                    if bucket.count == local.count && bucket.checksum == local.description {
                        report.digestBucketsMatching += 1
                    } else {
                        note(&digestProblems, "digest bucket from \(bucket.fromMilliseconds): the bridge says \(bucket.count) records, checksum \(bucket.checksum); its records give \(local.count), \(local.description)")
                    }
                }
                start = end
            }
        }

        if report.capabilities.contains("accounts") {
            var count = 0, withoutClientID = 0
            var after: UInt64?
            while true {
                let page = try await client.withRetries { [after] connection in try await connection.accountsPage(after: after, limit: pageSize) }
                count += page.accounts.count
                withoutClientID += page.accounts.filter { ($0.clientID ?? "").isEmpty }.count
                Self.countMissing(page.accounts, stream: "accounts", into: &report)
                guard page.more, let last = page.accounts.last?.login.flatMap({ UInt64($0) }) else { break }
                if let after, last <= after {
                    report.problems.append("accounts are not in ascending login order (§4.4)")
                    break
                }
                after = last
            }
            report.accounts = count
            report.accountsWithoutClientID = withoutClientID
        }
        if report.capabilities.contains("symbols") {
            let symbols = try await client.withRetries { connection in try await connection.symbols() }.map { RawSymbolRecord(object: $0) }
            report.symbols = symbols.count
            Self.countMissing(symbols, stream: "symbols", into: &report)
        }
        Self.reportMissing(&report, records: ["deals": report.records, "trades": report.records, "accounts": report.accounts ?? 0, "symbols": report.symbols ?? 0])
        return report
    }

    /// Whether the bridge's zone rule explains its server clock, and agrees with mtsync's configured zone. A wrong
    /// zone shifts every deal's UTC time by the difference: deals land on the wrong day in the loyalty feed.
    public static func zoneWarnings(rule: String?, serverNow: Int64, utcNow: Int64, configured: ServerTimeZone?) -> [String] {
        var warnings: [String] = []
        let clockOffset = serverNow.saturatingSubtracting(utcNow).saturatingAdding(30_000) / 60_000
        func offset(_ zone: ServerTimeZone) -> Int64 { (zone.serverMilliseconds(fromUTCMilliseconds: utcNow) - utcNow) / 60_000 }
        func text(_ minutes: Int64) -> String {
            let sign = minutes < 0 ? "-" : "+", size = abs(minutes)
            return String(format: "UTC%@%02lld:%02lld", sign, size / 60, size % 60)
        }
        let bridgeZone = rule.flatMap(ServerTimeZone.init)
        if let rule, bridgeZone == nil {
            warnings.append("server.info's time_zone.rule \(String(reflecting: rule)) is not a zone mtsync reads (an IANA name, ±HH:MM, UTC or ny-close; §4.1)")
        }
        if let bridgeZone, abs(offset(bridgeZone) - clockOffset) >= zoneTolerance {
            warnings.append("the server's clock reads \(text(clockOffset)) but the bridge's zone rule \(bridgeZone.name) gives \(text(offset(bridgeZone))) now: the rule (or the trade server's clock) is wrong, and times would be off by \(abs(offset(bridgeZone) - clockOffset)) min (§4.1)")
        }
        if let configured {
            if abs(offset(configured) - clockOffset) >= zoneTolerance {
                warnings.append("mtsync's configured zone \(configured.name) gives \(text(offset(configured))) now but the server's clock reads \(text(clockOffset)): every deal would be shifted by \(abs(offset(configured) - clockOffset)) min; fix the server's time_zone in mtsync's configuration")
            } else if let rule, rule != configured.name {
                warnings.append("the bridge's zone rule \(rule) differs from mtsync's configured \(configured.name); they agree now, but check they switch daylight saving on the same dates")
            }
        }
        return warnings
    }

    /// `value` rounded down to a multiple of `step`; the value is first kept within the times a zone converts, so
    /// that no bound a bridge or an option supplies can overflow.
    static func floor(_ value: Int64, to step: Int64) -> Int64 {
        let value = min(max(value, ServerTimeZone.convertibleMilliseconds.lowerBound), ServerTimeZone.convertibleMilliseconds.upperBound)
        return value >= 0 ? value / step * step : -((-value + step - 1) / step * step)
    }

    static func ceiling(_ value: Int64, to step: Int64) -> Int64 {
        let value = min(max(value, ServerTimeZone.convertibleMilliseconds.lowerBound), ServerTimeZone.convertibleMilliseconds.upperBound)
        return -floor(-value, to: step)
    }

    /// Whether a bridge's `server_time_ms` can be a trade server's clock: from 2000 to a day (plus the widest zone
    /// offset, 14 h) past this machine's UTC clock.
    static func plausibleClock(_ serverMilliseconds: Int64, now: Int64 = machineClockMilliseconds()) -> Bool {
        serverMilliseconds >= PlausibleTimeRule.defaultEarliest && serverMilliseconds <= now.saturatingAdding(PlausibleTimeRule.defaultAhead + 14 * 3_600_000)
    }

    static func machineClockMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
