import Foundation
import MTSyncCore
import Testing

@Suite("Server time to UTC")
struct ServerTimeZoneTests {
    struct Case: Decodable, Sendable, CustomTestStringConvertible {
        let zone: String
        let serverTimeMs: Int64
        let serverTime: String
        let fold0UtcMs: Int64
        let fold1UtcMs: Int64
        let kind: String

        enum CodingKeys: String, CodingKey {
            case zone, kind
            case serverTimeMs = "server_time_ms", serverTime = "server_time", fold0UtcMs = "fold0_utc_ms", fold1UtcMs = "fold1_utc_ms"
        }

        var testDescription: String { "\(zone) \(serverTime) (\(kind))" }
    }

    /// Every DST transition of 2024–2026 in four zones, 15-minute steps ±3 h, computed independently by Python's
    /// zoneinfo (scripts/fixtures/zone_transitions.py).
    static let cases: [Case] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "Fixtures/zone-transitions.json")
        struct File: Decodable { let cases: [Case] }
        return (try? JSONDecoder().decode(File.self, from: Data(contentsOf: url)).cases) ?? []
    }()

    @Test("the fixture covers both transitions of 2024, 2025 and 2026 in every zone")
    func fixtureIsComplete() {
        #expect(Self.cases.count == 600)
        for zone in ["Europe/Athens", "America/New_York", "Australia/Sydney", "ny-close"] {
            #expect(Self.cases.filter { $0.zone == zone && $0.kind == "gap" }.count == 12)
            #expect(Self.cases.filter { $0.zone == zone && $0.kind == "overlap" }.count == 12)
        }
    }

    @Test("matches Python zoneinfo on every case, for both ambiguity policies", arguments: cases)
    func matchesZoneinfo(_ testCase: Case) throws {
        let zone = try #require(ServerTimeZone(testCase.zone))
        let earlier = zone.utcMilliseconds(fromServerMilliseconds: testCase.serverTimeMs, policy: .earlier)
        let later = zone.utcMilliseconds(fromServerMilliseconds: testCase.serverTimeMs, policy: .later)
        switch testCase.kind {
        case "normal":
            #expect(earlier.resolution == .unique)
            #expect(earlier.utcMilliseconds == testCase.fold0UtcMs)
            #expect(later.utcMilliseconds == testCase.fold0UtcMs)
        case "gap":
            // A skipped wall time moves forward by the gap: zoneinfo's fold=0 reading, whatever the policy.
            #expect(earlier.resolution == .gap)
            #expect(earlier.utcMilliseconds == testCase.fold0UtcMs)
            #expect(later.utcMilliseconds == testCase.fold0UtcMs)
        default:
            #expect(earlier.resolution == .overlap)
            #expect(earlier.utcMilliseconds == testCase.fold0UtcMs, "earlier = fold 0")
            #expect(later.utcMilliseconds == testCase.fold1UtcMs, "later = fold 1")
        }
    }

    @Test("ny-close follows US DST dates, not European ones")
    func nyCloseUsesUSDates() throws {
        let zone = try #require(ServerTimeZone("ny-close"))
        // 2025-03-20 12:00 server time: the US already switched (9 March), Europe not yet (30 March).
        // New York 05:00 EDT = 09:00 UTC, so the server runs at UTC+3 that week.
        let serverMs: Int64 = 1_742_472_000_000  // 2025-03-20T12:00:00 as server wall clock
        #expect(zone.utcMilliseconds(fromServerMilliseconds: serverMs).utcMilliseconds == serverMs - 3 * 3_600_000)
        let athens = try #require(ServerTimeZone("Europe/Athens"))
        #expect(athens.utcMilliseconds(fromServerMilliseconds: serverMs).utcMilliseconds == serverMs - 2 * 3_600_000)
    }

    @Test("fixed offsets", arguments: [
        ("+02:00", 7_200), ("-05:00", -18_000), ("+0530", 19_800), ("+3", 10_800), ("UTC", 0), ("GMT+2", 7_200), ("UTC-03:30", -12_600),
    ])
    func fixedOffsets(name: String, offsetSeconds: Int64) throws {
        let zone = try #require(ServerTimeZone(name))
        let result = zone.utcMilliseconds(fromServerMilliseconds: 1_700_000_000_123)
        #expect(result.utcMilliseconds == 1_700_000_000_123 - offsetSeconds * 1000)
        #expect(result.resolution == .unique)
    }

    @Test("unknown zone settings are refused", arguments: ["", "Europe/Nowhere", "+25:00", "+02:60", "EET+2", "ny", "2"])
    func invalidZones(name: String) {
        #expect(ServerTimeZone(name) == nil)
    }

    @Test("times before 1970 and milliseconds survive conversion")
    func negativeAndMilliseconds() throws {
        let zone = try #require(ServerTimeZone("+02:00"))
        #expect(zone.utcMilliseconds(fromServerMilliseconds: -1).utcMilliseconds == -1 - 7_200_000)
        #expect(zone.utcMilliseconds(fromServerMilliseconds: 999).utcMilliseconds == 999 - 7_200_000)
    }
}
