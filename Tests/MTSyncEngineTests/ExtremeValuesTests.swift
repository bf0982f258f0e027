import Foundation
import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import MTSyncTestSupport
import Testing

/// Issue 20, finding 2: one extreme value crashed the daemon (SIGILL, arithmetic overflow) — over TCP (a deal with
/// only `Time`, a `server.info` whose `server_time_ms` is Int64.max) and from a drop file, again on every restart.
/// Each value is now a quarantined record with its reason, or a distrusted clock; the rest is stored.
@Suite("Extreme values from a bridge or a drop file: quarantined, never a crash")
struct ExtremeValuesTests {
    struct Alteration: Sendable, CustomTestStringConvertible {
        let name: String
        let fields: [String: String?]
        /// What the quarantine says: a time that is not positive is no time at all (`missing`).
        var reasonCode = "timeImplausible"
        var testDescription: String { name }
    }

    /// Deals a bridge sends with only `Time` (so the page check, which reads `TimeMsc`, lets them through to the
    /// normalizer and the source records, where `Time × 1000` and the zone conversion overflowed).
    static let alterations = [
        Alteration(name: "only Time = Int64.max", fields: ["TimeMsc": nil, "Time": "9223372036854775807"]),
        Alteration(name: "only Time = Int64.max / 1000, the maximal time in ms", fields: ["TimeMsc": nil, "Time": "9223372036854775"]),
        Alteration(name: "only Time = 9999-12-31T23:59:59", fields: ["TimeMsc": nil, "Time": "253402300799"]),
        Alteration(name: "only Time = 1999-12-31T23:59:59", fields: ["TimeMsc": nil, "Time": "946684799"]),
        Alteration(name: "only Time = -9223372036854775808", fields: ["TimeMsc": nil, "Time": "-9223372036854775808"], reasonCode: "missing"),
    ]
    /// West of UTC (where the overflow was) and east.
    static let zones = ["-05:00", "America/New_York", "+14:00"]

    static func sync(_ fixture: SyncFixture, port: Int, zone: String) throws -> ServerSync {
        let configuration = fixture.dataset.configuration
        let settings = ServerSettings(server: try ServerID(configuration.serverID), platform: configuration.platform, zone: ServerTimeZone(zone)!)
        let client = BridgeClient(
            endpoint: BridgeEndpoint(host: "127.0.0.1", port: port, key: SyncFixture.key),
            retryPolicy: .init(baseDelay: .milliseconds(5), maximumDelay: .milliseconds(50), maximumAttempts: 20))
        return ServerSync(
            client: client, connection: fixture.connection, batcher: RecordBatcher(normalizer: Normalizer(settings: settings)),
            settings: ServerSyncSettings(startMilliseconds: fixture.dataset.range.lowerBound, pageSize: 97, pendingAccountsEvery: .zero))
    }

    @Test("over TCP, a deal with an extreme time is quarantined as timeImplausible and the rest of its page stored", arguments: alterations, zones)
    func extremeDealOverTCP(alteration: Alteration, zone: String) async throws {
        var faults = SimulatorFaults()
        faults.alteredDeals = .init(every: 11, fields: alteration.fields)
        let fixture = try await SyncFixture(days: 1, dealsPerDay: 120, faults: faults)
        let deals = fixture.dataset.deals(fromMilliseconds: fixture.dataset.range.lowerBound, toMilliseconds: fixture.dataset.range.upperBound, after: nil, limit: 10_000).records
        let tickets = deals.compactMap { $0.deal.flatMap(UInt64.init) }
        let bad = Set(tickets.filter { $0 % 11 == 0 })
        try #require(!bad.isEmpty)
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try Self.sync(fixture, port: port, zone: zone)
            try await sync.register()
            let first = try await sync.pull()
            #expect(first.outcome.quarantined == bad.count)
            #expect(try await fixture.count("SELECT count(*) FROM trading_facts") == tickets.count - bad.count, "the rest of every page is stored")
            let entries = try await QuarantineEntry.open(serverID: "sim-mt5", limit: 1_000, on: fixture.connection)
            #expect(entries.count == bad.count)
            #expect(entries.allSatisfy { $0.reasonCode == alteration.reasonCode && ($0.reasonCode == "missing" || $0.reason.hasPrefix("field Time = ") && $0.reason.contains("outside the plausible times")) },
                    "\(entries.first.map { "\($0.reasonCode): \($0.reason)" } ?? "none")")
            // The cursor stays at a real deal: the last one the bridge sent, not a time nobody stored.
            let cursor = try await fixture.connection.run { connection in try FactStore.cursor(serverID: try ServerID("sim-mt5"), stream: .deals, on: connection) }
            #expect(cursor.serverTimeMilliseconds < fixture.dataset.range.upperBound)
            // The next poll reads the same records again: no crash, nothing new.
            let second = try await sync.pull()
            #expect(second.outcome.inserted == 0)
            #expect(try await fixture.count("SELECT count(*) FROM quarantine") == bad.count)
        }
    }

    @Test("a server.info clock that is not plausible is distrusted: mtsync's own clock bounds the pull, every deal is stored", arguments: [
        Int64.max, Int64.min, 0, -1, 946_684_799_999, 253_402_300_799_999,
    ] as [Int64])
    func implausibleServerClock(serverTime: Int64) async throws {
        var faults = SimulatorFaults()
        faults.serverTimeMilliseconds = serverTime
        let fixture = try await SyncFixture(days: 1, dealsPerDay: 80, faults: faults)
        let expected = fixture.dataset.deals(fromMilliseconds: fixture.dataset.range.lowerBound, toMilliseconds: fixture.dataset.range.upperBound, after: nil, limit: 10_000).records.count
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try Self.sync(fixture, port: port, zone: "-05:00")
            try await sync.register()
            let report = try await sync.pull()
            #expect(report.outcome.quarantined == 0)
            #expect(try await fixture.count("SELECT count(*) FROM trading_facts") == expected)
            // The trailing reconcile's range is anchored at the clock too: mtsync's own, not Int64.max.
            let range = try await sync.trailingRange(window: .seconds(3 * 86_400))
            let own = ServerTimeZone("-05:00")!.serverMilliseconds(fromUTCMilliseconds: Int64(Date().timeIntervalSince1970 * 1000))
            #expect(range.toMilliseconds <= own && range.toMilliseconds > own - 2 * 3_600_000)
        }
    }

    // MARK: - Drop files

    static func extremeDeals(_ dataset: SimulatedDataset) -> [MT5DealRecord] {
        let day = dataset.configuration.firstDay
        let base = dataset.deals(onDay: day).prefix(5)
        // TimeMsc must be an unsigned integer for the row to be a record at all (the drop's identity columns).
        let times = ["9223372036854775807", "9223372036854775000", "253402300800000", "946684799999", "18446744073709551615"]
        return zip(base, times).enumerated().map { index, pair in
            let (deal, time) = pair
            var extreme = deal
            extreme.deal = String(9_000_000_000_000 + index)
            extreme.timeMsc = time
            extreme.time = nil
            return extreme
        }
    }

    @Test("a drop file with extreme times: those rows quarantined with the reason, the file's other rows stored; a restart takes the next such file without a crash", arguments: zones)
    func extremeDropFile(zone: String) async throws {
        let root = FileManager.default.temporaryDirectory.appending(path: "mtsync-extreme-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let dataset = SimulatedDataset(.init(seed: 7, serverID: "sim-mt5", days: 1, dealsPerDay: 60, logins: 6))
        let writer = DropFolderWriter(root: root.path)
        try writer.publish(dataset)
        let (_, connection) = try await TestDatabase.migrated()
        let settings = ServerSettings(server: try ServerID("sim-mt5"), platform: .mt5, zone: ServerTimeZone(zone)!)
        try await FactStore.register(serverID: settings.server, platform: .mt5, zone: zone, on: connection)
        func pull() async throws -> SyncReport {
            // A new intake and sync each time, as after a restart.
            let sync = DropServerSync(
                intake: DropFolderIntake(folder: try DropFolder(root: root.path, serverID: "sim-mt5"), connection: connection),
                batcher: RecordBatcher(normalizer: Normalizer(settings: settings)))
            return try await sync.pull()
        }
        func count(_ sql: PostgresQuery) async throws -> Int { try await connection.query(sql)[0].decode(Int.self, 0) }
        _ = try await pull()
        let cursorBefore = try await connection.run { connection in try FactStore.cursor(serverID: settings.server, stream: .deals, on: connection) }

        // One file mixing good rows (copies of the day's first deals under new tickets) and the extremes.
        let extreme = Self.extremeDeals(dataset)
        let mixed = dataset.deals(onDay: dataset.configuration.firstDay).prefix(3).enumerated().map { index, deal -> MT5DealRecord in
            var copy = deal
            copy.deal = String(8_000_000_000_000 + index)
            return copy
        } + extreme
        let from = dataset.range.lowerBound
        _ = try writer.publish(DropCSVWriter.file(mixed), stream: .deals, from: from, to: from + 86_400_000, sequence: 2, server: "sim-mt5")
        let report = try await pull()
        #expect(report.outcome.quarantined == extreme.count)
        #expect(try await count("SELECT count(*) FROM trading_facts WHERE ticket >= 8000000000000 AND ticket < 9000000000000") == 3, "the file's good rows are stored")
        #expect(try await count("SELECT count(*) FROM trading_facts WHERE ticket >= 9000000000000") == 0)
        let entries = try await QuarantineEntry.open(serverID: "sim-mt5", limit: 100, on: connection)
        #expect(entries.count == extreme.count)
        #expect(entries.allSatisfy { $0.source.hasPrefix("csv:deals-") && ["timeImplausible", "outOfRange"].contains($0.reasonCode) && $0.reason.hasPrefix("field TimeMsc") },
                "\(entries.map { "\($0.reasonCode): \($0.reason)" })")
        #expect(entries.filter { $0.reasonCode == "timeImplausible" }.count == extreme.count - 1, "UInt64.max is out of Int64's range, the rest implausible")
        // The cursor stays at the last stored deal: the extremes (Int64.max, year 10000) do not move it.
        let cursor = try await connection.run { connection in try FactStore.cursor(serverID: settings.server, stream: .deals, on: connection) }
        #expect(cursor == cursorBefore)
        #expect(cursor.serverTimeMilliseconds < dataset.range.upperBound)
        let processed = try FileManager.default.contentsOfDirectory(atPath: root.appending(path: "sim-mt5/processed").path)
        #expect(processed.contains { $0.hasSuffix("-0002.csv") }, "the file with extremes is taken, not left to crash the next start")
        let facts = try await count("SELECT count(*) FROM trading_facts")

        // "Restart": the same extremes in the next file are quarantined again, the daemon goes on.
        _ = try writer.publish(DropCSVWriter.file(extreme), stream: .deals, from: from, to: from + 86_400_000, sequence: 3, server: "sim-mt5")
        let again = try await pull()
        #expect(again.pages == 1)
        #expect(try await count("SELECT count(*) FROM trading_facts") == facts)
    }

    @Test("held records are normalized again within the window: a batcher without one uses mtsync's clock")
    func batcherWindows() throws {
        let settings = ServerSettings(server: try ServerID("w"), platform: .mt5, zone: ServerTimeZone("-05:00")!)
        let batcher = RecordBatcher(normalizer: Normalizer(settings: settings))
        #expect(batcher.times == .convertible)
        let clock = batcher.ownClock(now: Date(timeIntervalSince1970: 1_796_558_400))
        #expect(clock.source == .own && clock.nowMilliseconds == 1_796_558_400_000 - 5 * 3_600_000)
        let windowed = batcher.within(clock)
        #expect(windowed.times.latestServerMilliseconds == clock.nowMilliseconds + 86_400_000)
        let deal = MT5DealRecord(fields: ["Deal": "1", "Login": "2", "Action": "2", "Time": "9223372036854775", "Profit": "1"])
        let batch = windowed.batch(deals: [deal], cursor: nil)
        #expect(batch.quarantine.map(\.reasonCode) == ["timeImplausible"])
        #expect(RecordBatcher.lastAccepted(batch) == nil, "a quarantined record moves no cursor")
        let overflowing = MT5DealRecord(fields: ["Deal": "1", "Login": "2", "Action": "2", "Time": "9223372036854775807", "Profit": "1"])
        #expect(windowed.batch(deals: [overflowing], cursor: nil).sources.isEmpty, "Time × 1000 past Int64: no source record, no trap")
        let trade = MT4TradeRecord(fields: ["order": "1", "login": "2", "cmd": "6", "open_time": "1", "close_time": "9223372036854775807", "profit": "1"])
        #expect(windowed.batch(trades: [trade], cursor: nil).quarantine.count == 1)
    }
}
