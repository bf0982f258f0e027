import Foundation
import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import Synchronization
import Testing

/// An MT5 bridge without a socket: the simulator's dataset served straight through `BridgeSource`, with a
/// failure a test schedules. What the engine does with a bridge's answers is then tested apart from the transport
/// (which has tests of its own against loopback TCP).
struct InProcessBridge: BridgeSource {
    struct WentAway: Error {}

    let dataset: SimulatedDataset
    /// The deals pages served so far, and the one (counting from 1) that fails instead, if any.
    final class Schedule: Sendable {
        let state: Mutex<(served: Int, failing: Int?)>
        init(failing: Int?) { state = Mutex((0, failing)) }
        func withLock<T>(_ body: (inout (served: Int, failing: Int?)) -> T) -> T { state.withLock { body(&$0) } }
    }
    private let pages: Schedule

    /// `server.info`'s `time_zone.rule` and the offset its two clocks show (none: no `utc_time_ms`).
    let zone: (rule: String, clockOffsetMinutes: Int64)?

    init(dataset: SimulatedDataset, failingDealsPage: Int? = nil, zone: (rule: String, clockOffsetMinutes: Int64)? = nil) {
        self.dataset = dataset
        self.pages = Schedule(failing: failingDealsPage)
        self.zone = zone
    }

    var dealsPagesServed: Int { pages.withLock { $0.served } }
    func heal() { pages.withLock { $0.failing = nil } }

    func withSession<Result: Sendable>(_ body: (any BridgeSource) async throws -> Result) async throws -> Result { try await body(self) }
    func capabilities() async throws -> [String] { ["accounts"] }
    func serverInfo() async throws -> JSONValue {
        let now = dataset.range.upperBound
        guard let zone else { return ["server_time_ms": .integer(now)] }
        return ["server_time_ms": .integer(now), "utc_time_ms": .integer(now - zone.clockOffsetMinutes * 60_000), "time_zone": ["rule": .string(zone.rule)]]
    }

    func deals(fromMilliseconds from: Int64, toMilliseconds to: Int64, after: DealPosition?, pageSize: Int) -> BridgePages<MT5DealRecord, DealPosition> {
        BridgePages(after: after) { [dataset, pages] after in
            let fails = pages.withLock { state in
                if state.failing == state.served + 1 { return true }
                state.served += 1
                return false
            }
            if fails { throw WentAway() }
            let page = dataset.deals(fromMilliseconds: from, toMilliseconds: to, after: after.map { ($0.timeMsc, $0.deal) }, limit: pageSize)
            let position = page.records.last.map { DealPosition(timeMsc: Int64($0.timeMsc!)!, deal: UInt64($0.deal!)!) }
            return BridgePage(records: page.records, position: position, more: page.more)
        }
    }

    func accountsPage(after: UInt64?, limit: Int) async throws -> AccountsPage {
        let accounts = dataset.accountRecords().filter { UInt64($0.login!)! > (after ?? 0) }
        let page = Array(accounts.prefix(limit))
        return AccountsPage(accounts: page, more: accounts.count > page.count, next: page.last.flatMap { UInt64($0.login!) })
    }

    // Not announced in `capabilities` (or MT4 only): the engine must not ask.
    func closedTrades(fromMilliseconds from: Int64, toMilliseconds to: Int64, after: TradePosition?, pageSize: Int) -> BridgePages<MT4TradeRecord, TradePosition> {
        BridgePages(after: after) { _ in Issue.record("closedTrades asked of an MT5 bridge"); throw WentAway() }
    }
    func openTrades(after: TradePosition?, limit: Int) async throws -> TradesPage { Issue.record("openTrades asked of an MT5 bridge"); throw WentAway() }
    func dailyPage(fromMilliseconds from: Int64, toMilliseconds to: Int64, after: DailyPosition?, limit: Int) async throws -> DailyPage { Issue.record("daily not announced"); throw WentAway() }
    func symbols() async throws -> [JSONValue] { Issue.record("symbols not announced"); throw WentAway() }
    func digest(stream: String, fromMilliseconds from: Int64, toMilliseconds to: Int64, bucketMilliseconds: Int64) async throws -> [DigestBucket] { Issue.record("digest not announced"); throw WentAway() }
    func changesPage(since: Int64, limit: Int) async throws -> ChangesPage { Issue.record("changes not announced"); throw WentAway() }
}

@Suite("Sync engine against a bridge without a socket (BridgeSource)")
struct InProcessBridgeTests {
    @Test("a pull that fails on its third page keeps the two pages stored and the cursor on the last stored deal; the next pull stores the rest once")
    func failedPageKeepsWhatWasStored() async throws {
        let fixture = try await SyncFixture(days: 2, dealsPerDay: 150)
        let bridge = InProcessBridge(dataset: fixture.dataset, failingDealsPage: 3)
        let pageSize = 97
        let sync = try fixture.sync(source: bridge, pageSize: pageSize)
        try await sync.register()

        await #expect(throws: InProcessBridge.WentAway.self) { try await sync.pull() }
        let served = fixture.dataset.deals(
            fromMilliseconds: fixture.dataset.range.lowerBound, toMilliseconds: fixture.dataset.range.upperBound, after: nil, limit: 2 * pageSize
        ).records
        let last = try #require(served.last)
        let cursor = try await fixture.connection.run { connection in try FactStore.cursor(serverID: sync.serverID, stream: .deals, on: connection) }
        #expect(cursor == CursorPosition(serverTimeMilliseconds: Int64(last.timeMsc!)!, ticket: UInt64(last.deal!)!))
        #expect(try await fixture.count("SELECT count(DISTINCT ticket) FROM trading_facts") == 2 * pageSize)

        bridge.heal()
        _ = try await sync.pull()
        #expect(try await fixture.storedTruth() == fixture.dataset.groundTruth())
        #expect(try await fixture.count("SELECT count(*) FROM fact_identities WHERE revision > 1") == 0)
        #expect(bridge.dealsPagesServed > 3)
    }

    @Test("a backfill's chunks are one stream of pages: a chunk is done (with its records) once its last page is stored; one failing mid-way keeps its stored pages and fails the job, and the next run redoes the range, storing each deal once")
    func backfillChunksResume() async throws {
        let fixture = try await SyncFixture(days: 3, dealsPerDay: 150)
        let day: Int64 = 86_400_000
        let (from, to) = (fixture.dataset.range.lowerBound, fixture.dataset.range.upperBound)
        let perChunk = stride(from: from, to: to, by: Int(day)).map { start in
            fixture.dataset.deals(fromMilliseconds: start, toMilliseconds: min(start + day, to), after: nil, limit: 10_000).records.count
        }
        // Pages of 97: a chunk's pages are its deals / 97 rounded up (plus an empty one when exactly full); the page
        // that fails is in the second chunk.
        let pageSize = 97
        let failing = (perChunk[0] + pageSize - 1) / pageSize + 1
        let bridge = InProcessBridge(dataset: fixture.dataset, failingDealsPage: failing + 1)
        let sync = try fixture.sync(source: bridge, pageSize: pageSize)
        try await sync.register()

        await #expect(throws: InProcessBridge.WentAway.self) {
            try await sync.backfill(fromMilliseconds: from, toMilliseconds: to, chunkMilliseconds: day, owner: "test")
        }
        let chunks: PostgresQuery = """
            SELECT coalesce(string_agg(records::text, ',' ORDER BY chunk_from_server_msc), '') FROM job_chunks
            WHERE state = 'done' AND job_id = (SELECT max(job_id) FROM jobs)
            """
        #expect(try await fixture.connection.query(chunks)[0].decode(String.self, 0) == "\(perChunk[0])")
        #expect(try await fixture.count("SELECT count(DISTINCT ticket) FROM trading_facts") == perChunk[0] + pageSize)

        bridge.heal()
        let report = try await sync.backfill(fromMilliseconds: from, toMilliseconds: to, chunkMilliseconds: day, owner: "test")
        #expect(report.chunks == perChunk.count && report.chunksAlreadyDone == 0)
        #expect(report.records == perChunk.reduce(0, +))
        #expect(try await fixture.connection.query(chunks)[0].decode(String.self, 0) == perChunk.map(String.init).joined(separator: ","))
        #expect(try await fixture.storedTruth() == fixture.dataset.groundTruth())
        #expect(try await fixture.count("SELECT count(*) FROM fact_identities WHERE revision > 1") == 0)
    }

    @Test("§4.1: a zone rule or clock that disagrees with the configured zone (ny-close) is warned about in status; one that agrees is not", arguments: [
        ("ny-close", Int64(120), false), ("Europe/Athens", 120, true), ("ny-close", 60, true), ("not a zone", 120, true),
    ])
    func zoneRuleWarning(rule: String, clockOffsetMinutes: Int64, warned: Bool) async throws {
        let fixture = try await SyncFixture(days: 1, dealsPerDay: 20)
        let sync = try fixture.sync(source: InProcessBridge(dataset: fixture.dataset, zone: (rule, clockOffsetMinutes)))
        try await sync.register()
        _ = try await sync.pull()
        let rows = try await fixture.connection.query("SELECT last_warning FROM sync_cursors WHERE server_id = \(sync.serverID.rawValue) AND stream = 'deals'")
        let warning = try rows.first.flatMap { try $0.decode(String?.self, 0) }
        #expect((warning?.contains("zone") ?? false) == warned, "\(warning ?? "no warning")")
    }
}
