import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncTestSupport
import Testing

@Suite("mtsync bridge check: a bridge measured against the spec")
struct BridgeConformanceCheckTests {
    static let key = ClientSimulatorTests.key

    static func check(_ simulator: BridgeSimulator, from: Int64, to: Int64, pageSize: Int = 100) async throws -> BridgeConformanceCheck.Report {
        try await SimulatorHarness.run(simulator) { port in
            let client = BridgeClient(endpoint: BridgeEndpoint(host: "127.0.0.1", port: port, key: Self.key), retryPolicy: SimulatorHarness.fastRetries)
            return try await BridgeConformanceCheck(client: client, pageSize: pageSize).run(fromMilliseconds: from, toMilliseconds: to)
        }
    }

    @Test("the reference simulator conforms, MT5 and MT4: every record in order and range, every hour's digest matches")
    func referenceConforms() async throws {
        for dataset in [ClientSimulatorTests.dataset, SimulatorHarness.mt4Dataset] {
            let simulator = BridgeSimulator(dataset: dataset, key: Self.key)
            let report = try await Self.check(simulator, from: dataset.range.lowerBound, to: dataset.range.upperBound)
            #expect(report.conforms, "\(report.problems)")
            #expect(report.records > 0 && report.pages > 1)
            #expect(report.digestBuckets == Int((dataset.range.upperBound - dataset.range.lowerBound) / 3_600_000))
            #expect(report.digestBucketsMatching == report.digestBuckets)
            #expect(report.platform == dataset.configuration.platform.rawValue)
        }
    }

    @Test("server.info reports the server clock shifted by the zone rule (ny-close is UTC+2 or UTC+3)")
    func serverClock() async throws {
        let dataset = ClientSimulatorTests.dataset
        let report = try await Self.check(BridgeSimulator(dataset: dataset, key: Self.key), from: dataset.range.lowerBound, to: dataset.range.lowerBound + 3_600_000)
        #expect(report.timeZoneRule == "ny-close")
        #expect(report.serverClockOffsetMinutes == 120 || report.serverClockOffsetMinutes == 180)
    }

    /// 2025-01-15 12:00 UTC: New York on standard time, so ny-close is UTC+2.
    static let winterNoon: Int64 = 1_736_942_400_000

    struct ZoneCase: Sendable, CustomTestStringConvertible {
        var rule: String?
        var clockMinutes: Int64
        var configured: String?
        var warned: [String]
        var testDescription: String { "rule \(rule ?? "none"), clock UTC\(clockMinutes >= 0 ? "+" : "")\(clockMinutes) min, mtsync \(configured ?? "unset") → \(warned.isEmpty ? "quiet" : warned.joined(separator: " / "))" }
    }

    @Test("a zone rule that does not explain the server's clock, or differs from mtsync's, is a warning (§4.1)", arguments: [
        ZoneCase(rule: "ny-close", clockMinutes: 120, configured: nil, warned: []),
        ZoneCase(rule: "ny-close", clockMinutes: 124, configured: "ny-close", warned: []),  // a clock a few minutes off is not a zone
        ZoneCase(rule: "ny-close", clockMinutes: 180, configured: nil, warned: ["the bridge's zone rule ny-close gives UTC+02:00 now", "off by 60 min"]),
        ZoneCase(rule: "ny-close", clockMinutes: 120, configured: "Europe/London", warned: ["mtsync's configured zone Europe/London gives UTC+00:00", "shifted by 120 min"]),
        ZoneCase(rule: "+02:00", clockMinutes: 120, configured: "ny-close", warned: ["differs from mtsync's configured ny-close", "daylight saving"]),
        ZoneCase(rule: "America/Chicago", clockMinutes: -360, configured: "-06:00", warned: ["differs from mtsync's configured -06:00"]),
        ZoneCase(rule: "Mars/Olympus", clockMinutes: 0, configured: nil, warned: ["not a zone mtsync reads"]),
    ])
    func zoneWarnings(_ zoneCase: ZoneCase) {
        let warnings = BridgeConformanceCheck.zoneWarnings(
            rule: zoneCase.rule, serverNow: Self.winterNoon + zoneCase.clockMinutes * 60_000, utcNow: Self.winterNoon,
            configured: zoneCase.configured.flatMap(ServerTimeZone.init))
        if zoneCase.warned.isEmpty {
            #expect(warnings.isEmpty, "\(warnings)")
        } else {
            #expect(warnings.count == 1, "\(warnings)")
            for part in zoneCase.warned { #expect(warnings.first?.contains(part) == true, "\(warnings) lacks \(part)") }
        }
    }

    @Test("a bridge that leaves out mandatory fields does not conform: each missing field is named per stream with its count", arguments: [Platform.mt5, .mt4])
    func missingMandatoryFields(platform: Platform) async throws {
        let dataset = platform == .mt5 ? ClientSimulatorTests.dataset : SimulatorHarness.mt4Dataset
        var faults = SimulatorFaults()
        faults.omittedFields = ["ContractSize", "DigitsCurrency", "commission_agent", "currency", "contract_size"]
        let report = try await Self.check(BridgeSimulator(dataset: dataset, key: Self.key, faults: faults), from: dataset.range.lowerBound, to: dataset.range.upperBound)
        #expect(!report.conforms)
        let stream = platform == .mt5 ? "deals" : "trades"
        let expected: Set<String> = platform == .mt5 ? ["ContractSize", "DigitsCurrency"] : ["commission_agent"]
        #expect(Set(report.missingFields[stream]?.keys.map { $0 } ?? []) == expected)
        #expect(report.missingFields[stream]?.values.allSatisfy { $0 == report.records } == true, "every record lacks them")
        #expect(report.missingFields["accounts"]?.keys.map { $0 } == ["currency"])
        #expect(report.missingFields["symbols"]?.keys.map { $0 } == ["contract_size"])
        for name in ["\(stream) records lack mandatory fields", "accounts records lack mandatory fields (§4.4): currency", "symbols records lack mandatory fields (§4.5): contract_size"] {
            #expect(report.problems.contains { $0.hasPrefix(name) }, "\(report.problems)")
        }
    }

    @Test("a bridge that serves a page out of order, or a deal outside the range, does not conform: the check names the problem", arguments: [
        (Misbehaviour.wrongOrder, "order"), (.outsideRange, "outside [from_ms, to_ms)"),
    ])
    func historyProblems(misbehaviour: Misbehaviour, named: String) async throws {
        let dataset = ClientSimulatorTests.dataset
        var faults = SimulatorFaults()
        faults.misbehaviour = misbehaviour
        let report = try await Self.check(BridgeSimulator(dataset: dataset, key: Self.key, faults: faults), from: dataset.range.lowerBound, to: dataset.range.upperBound)
        #expect(!report.conforms)
        #expect(report.problems.contains { $0.contains(named) }, "\(report.problems)")
    }
}
