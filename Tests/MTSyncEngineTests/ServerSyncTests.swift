import Foundation
import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import MTSyncTestSupport
import Testing

/// The sync engine against the real things: a PostgreSQL database migrated with the real schema, and the
/// reference bridge over loopback TCP.
struct SyncFixture {
    static let key = try! BridgeKey(id: "engine-test", hex: String(repeating: "7e", count: 32))

    let dataset: SimulatedDataset
    let simulator: BridgeSimulator
    let database: TestDatabase
    let connection: PostgresConnection

    init(
        platform: Platform = .mt5, days: Int = 3, dealsPerDay: Int = 150, seed: UInt64 = 21, faults: SimulatorFaults = .none,
        lateAccounts: Bool = false, groupMoves: Bool = false, logins: Int = 12
    ) async throws {
        dataset = SimulatedDataset(.init(
            seed: seed, serverID: "sim-\(platform.rawValue)", days: days, dealsPerDay: dealsPerDay, logins: logins, platform: platform,
            lateAccounts: lateAccounts, groupMoves: groupMoves))
        simulator = BridgeSimulator(dataset: dataset, key: Self.key, faults: faults)
        (database, connection) = try await TestDatabase.migrated()
    }

    /// The server's sync; `filter`: its account filters (groups, logins, unknown accounts). The accounts are read
    /// again on every pull while records wait for theirs (`pendingAccountsEvery` zero), so a test need not wait.
    func sync(
        port: Int, lookback: Duration = .seconds(7_200), pageSize: Int = 97, filter: AccountFilter = .none, changesRecoveryWindow: Duration = .seconds(3 * 86_400),
        lookbackEvery: Duration = .zero
    ) throws -> ServerSync {
        let client = BridgeClient(
            endpoint: BridgeEndpoint(host: "127.0.0.1", port: port, key: Self.key),
            retryPolicy: .init(baseDelay: .milliseconds(5), maximumDelay: .milliseconds(50), maximumAttempts: 20))
        return try sync(source: client, lookback: lookback, pageSize: pageSize, filter: filter, changesRecoveryWindow: changesRecoveryWindow, lookbackEvery: lookbackEvery)
    }

    /// The server's sync reading `source` (a loopback client, or a bridge without a socket).
    func sync(
        source client: any BridgeSource, lookback: Duration = .seconds(7_200), pageSize: Int = 97, filter: AccountFilter = .none,
        changesRecoveryWindow: Duration = .seconds(3 * 86_400), lookbackEvery: Duration = .zero
    ) throws -> ServerSync {
        let configuration = dataset.configuration
        let settings = ServerSettings(server: try ServerID(configuration.serverID), platform: configuration.platform, zone: ServerTimeZone("ny-close")!, filter: filter)
        var syncSettings = ServerSyncSettings(startMilliseconds: dataset.range.lowerBound, lookback: lookback, pageSize: pageSize, pendingAccountsEvery: .zero)
        syncSettings.changesRecoveryWindow = changesRecoveryWindow
        // Every pull reaches back the whole lookback, as the tests of late deals expect of consecutive pulls
        // (the daemon's schedule of reach-backs has its own test).
        syncSettings.lookbackEvery = lookbackEvery
        return ServerSync(client: client, connection: connection, batcher: RecordBatcher(normalizer: Normalizer(settings: settings)), settings: syncSettings)
    }

    /// Per-login figures of the stored, not deleted facts, in the simulator's ground-truth units.
    func storedTruth() async throws -> [UInt64: SimulatedDataset.LoginTruth] {
        let server = dataset.configuration.serverID
        let rows = try await connection.query("""
            SELECT login, count(DISTINCT ticket),
                   coalesce(sum(CASE WHEN leg <> 1 THEN lots ELSE 0 END) * 100000000, 0)::bigint,
                   coalesce(sum(net) * 100, 0)::bigint
            FROM trading_facts WHERE server_id = \(server) AND NOT deleted
              -- The closed history the ground truth covers: not an MT4 open trade's lone open leg.
              AND ticket NOT IN (SELECT ticket FROM trading_facts WHERE leg = 1 EXCEPT SELECT ticket FROM trading_facts WHERE leg = 2)
            GROUP BY login
            """)
        var truth: [UInt64: SimulatedDataset.LoginTruth] = [:]
        for row in rows {
            truth[UInt64(try row.decode(Int64.self, 0))] = SimulatedDataset.LoginTruth(
                deals: try row.decode(Int.self, 1), volumeExt: UInt64(try row.decode(Int64.self, 2)), netCents: try row.decode(Int64.self, 3))
        }
        return truth
    }

    func count(_ sql: PostgresQuery) async throws -> Int {
        try await connection.query(sql)[0].decode(Int.self, 0)
    }
}

@Suite("Sync engine: bridge → PostgreSQL, real components")
struct ServerSyncTests {
    @Test("a deal the normalizer cannot read is quarantined once with its reason and exact bytes, the rest of its page stored; re-reading it changes nothing")
    func unreadableRecordQuarantined() async throws {
        let fixture = try await SyncFixture(days: 1, dealsPerDay: 150, faults: SimulatorFaults(unreadableProfitEvery: 7))
        let tickets = fixture.dataset.deals(fromMilliseconds: fixture.dataset.range.lowerBound, toMilliseconds: fixture.dataset.range.upperBound, after: nil, limit: 10_000)
            .records.compactMap { $0.deal.flatMap(UInt64.init) }
        let bad = Set(tickets.filter { $0 % 7 == 0 })
        try #require(!bad.isEmpty)
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try fixture.sync(port: port)
            try await sync.register()
            let first = try await sync.pull()
            #expect(first.outcome.quarantined == bad.count)
            #expect(try await fixture.count("SELECT count(*) FROM trading_facts") == tickets.count - bad.count, "the rest of every page is stored")
            let entries = try await QuarantineEntry.open(serverID: "sim-mt5", limit: 1_000, on: fixture.connection)
            #expect(entries.count == bad.count)
            #expect(entries.allSatisfy { $0.source == "tcp" && $0.reason.contains("Profit") && String(decoding: $0.raw, as: UTF8.self).contains("\"Profit\":\"1,5\"") },
                    "\(entries.first.map { "\($0.reasonCode): \($0.reason)" } ?? "none")")
            #expect(try await fixture.count("SELECT count(*) FROM source_records WHERE outcome = 'quarantined'") == bad.count)

            // The next poll re-reads the lookback window, bad records included: nothing is quarantined twice.
            let second = try await sync.pull()
            #expect(second.outcome.inserted == 0)
            #expect(try await fixture.count("SELECT count(*) FROM quarantine") == bad.count, "a re-read bad record is not quarantined again")
        }
    }

    @Test("an incremental pull stores every deal once, per-login counts, lots and net equal the simulator's ground truth", arguments: [Platform.mt5, .mt4])
    func incrementalEqualsGroundTruth(platform: Platform) async throws {
        let fixture = try await SyncFixture(platform: platform)
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try fixture.sync(port: port)
            try await sync.register()
            let first = try await sync.pull()
            #expect(first.pages > 1)
            #expect(try await fixture.storedTruth() == fixture.dataset.groundTruth())

            // Every stored fact has exactly one event; a second pull (re-reading the lookback) changes nothing.
            let facts = try await fixture.count("SELECT count(*) FROM trading_facts")
            #expect(try await fixture.count("SELECT count(*) FROM outbox") == facts)
            #expect(first.outcome.inserted == facts)
            let second = try await sync.pull()
            #expect(second.outcome.inserted == 0 && second.outcome.updated == 0)
            #expect(try await fixture.count("SELECT count(*) FROM outbox") == facts)
            #expect(try await fixture.count("SELECT count(*) FROM fact_identities WHERE revision > 1") == 0)

            // The cursor stands on the last record served, never past it.
            let last: CursorPosition
            switch platform {
            case .mt5:
                let deal = fixture.dataset.deals(onDay: fixture.dataset.configuration.firstDay + 2).last!
                last = CursorPosition(serverTimeMilliseconds: Int64(deal.timeMsc!)!, ticket: UInt64(deal.deal!)!)
            case .mt4:
                let trade = fixture.dataset.closedTrades(onDay: fixture.dataset.configuration.firstDay + 2).last!
                last = CursorPosition(serverTimeMilliseconds: trade.closeTime * 1000, ticket: trade.order)
            }
            #expect(second.cursor == last)
        }
    }

    @Test("the outbox carries one event per fact with the fact's JSON and its key server:ticket:revision")
    func outboxEvents() async throws {
        let fixture = try await SyncFixture(days: 1, dealsPerDay: 40)
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try fixture.sync(port: port)
            try await sync.register()
            _ = try await sync.pull()
            #expect(try await fixture.count("SELECT count(*) FROM outbox") == (try await fixture.count("SELECT count(*) FROM trading_facts")))
            // As the relay sends it: the payload built from the stored fact (migration 0020).
            let event = try #require(try await Outbox.claim(serverID: "sim-mt5", owner: "test", limit: 1, claimFor: .seconds(5), on: fixture.connection).first?.event)
            let payload = try #require(try JSONSerialization.jsonObject(with: Data(event.payloadJSON.utf8)) as? [String: Any])
            let key = event.idempotencyKey
            #expect(key.hasPrefix("sim-mt5:") && key.hasSuffix(":1"))
            #expect(event.kind == "fact.created")
            #expect(payload["idempotency_key"] as? String == key)
            #expect((payload["time_utc"] as? String)?.hasSuffix("Z") == true && payload["lots"] is String)
            #expect(key == "sim-mt5:\(payload["deal"] as? Int ?? -1):1")
        }
    }

    @Test("dealer edits and deletions arrive through changes; late deals inside the lookback through the re-read")
    func editsDeletionsAndLateDeals() async throws {
        let fixture = try await SyncFixture()
        try await SimulatorHarness.run(fixture.simulator) { port in
            // A lookback as long as the history: every late deal falls inside it.
            let sync = try fixture.sync(port: port, lookback: .seconds(4 * 86_400))
            try await sync.register()
            _ = try await sync.pull()
            fixture.simulator.setGeneration(1)
            let report = try await sync.pull()
            #expect(report.changes > 0)
            #expect(report.outcome.updated > 0 && report.outcome.deleted > 0 && report.outcome.inserted > 0)
            #expect(try await fixture.storedTruth() == fixture.dataset.groundTruth(generation: 1))
            #expect(try await fixture.count("SELECT count(*) FROM outbox WHERE event_kind = 'fact.deleted'") == report.outcome.deleted)
        }
    }

    @Test("a pull re-reads a minute before its cursor and a slice of the lookback; the sweep brings the late deals within lookback_every")
    func reachBackSchedule() async throws {
        let fixture = try await SyncFixture()
        try await SimulatorHarness.run(fixture.simulator) { port in
            // A lookback as long as the history, swept in full every 20 seconds.
            let sync = try fixture.sync(port: port, lookback: .seconds(4 * 86_400), lookbackEvery: .seconds(20))
            try await sync.register()
            let first = try await sync.pull()
            #expect(first.records == fixture.dataset.deals(onDay: fixture.dataset.configuration.firstDay).count
                + fixture.dataset.deals(onDay: fixture.dataset.configuration.firstDay + 1).count
                + fixture.dataset.deals(onDay: fixture.dataset.configuration.firstDay + 2).count, "the first pull of a process reaches back in full")
            // Generation 1: the dealer's edits and deletions come through `changes`; late deals, posted with older
            // times, only through a reach-back.
            fixture.simulator.setGeneration(1)
            let between = try await sync.pull()
            #expect(between.records < first.records / 2, "a minute before the cursor and a slice, not the history: \(between.records) records")
            #expect(try await fixture.storedTruth() != fixture.dataset.groundTruth(generation: 1), "the late deals are not there yet")
            // Once lookback_every has passed, the next pull re-reads the whole window and finds them.
            try await Task.sleep(for: .seconds(20))
            let full = try await sync.pull()
            #expect(full.records >= first.records - 100, "the whole lookback again")
            #expect(full.outcome.inserted > 0)
            #expect(try await fixture.storedTruth() == fixture.dataset.groundTruth(generation: 1))
        }
    }

    @Test("changes_expired (the bridge's journal lost events) repairs the recent window by digest, shows in status and follows the journal from its start")
    func expiredChangesAreRepaired() async throws {
        let fixture = try await SyncFixture()
        try await SimulatorHarness.run(fixture.simulator) { port in
            // No lookback: only changes, or the repair, can bring the dealer's edits. The history is years before
            // mtsync's clock: a recovery window reaching back to it.
            let days = (Int64(Date().timeIntervalSince1970 * 1000) - fixture.dataset.range.lowerBound) / 86_400_000 + 2
            let sync = try fixture.sync(port: port, lookback: .zero, changesRecoveryWindow: .seconds(days * 86_400))
            try await sync.register()
            _ = try await sync.pull()
            // mtsync had followed the journal to sequence 5; the bridge then restarted, and the edits, deletions and
            // late deals made meanwhile never reach its journal.
            try await fixture.connection.query("""
                INSERT INTO sync_cursors (server_id, stream, change_sequence) VALUES ('sim-mt5', 'changes', 5)
                ON CONFLICT (server_id, stream) DO UPDATE SET change_sequence = 5
                """)
            fixture.simulator.setGeneration(1)
            fixture.simulator.setChangesKeptFrom(.max)

            let report = try await sync.pull()
            #expect(report.changes == 0)
            #expect(try await fixture.storedTruth() == fixture.dataset.groundTruth(generation: 1), "the repair brought every edit, deletion and late deal")
            #expect(try await fixture.count("SELECT count(*) FROM sync_cursors WHERE stream = 'changes' AND change_sequence = 0 AND last_warning LIKE '%changes_expired%'") == 1)
            // The next round follows the journal from its start, which is never expired.
            _ = try await sync.pull()
            #expect(try await fixture.count("SELECT count(*) FROM sync_cursors WHERE stream = 'changes' AND change_sequence = 0") == 1)
        }
    }

    @Test("reconcile: a consistent store has no differing bucket; after edits the bridge made unseen, repair restores the truth", arguments: [Platform.mt5, .mt4])
    func reconcileRepairs(platform: Platform) async throws {
        let fixture = try await SyncFixture(platform: platform)
        try await SimulatorHarness.run(fixture.simulator) { port in
            // No lookback: late deals are invisible to the incremental pull; only reconcile can find them.
            let sync = try fixture.sync(port: port, lookback: .zero)
            try await sync.register()
            _ = try await sync.pull()
            let range = fixture.dataset.range
            let clean = try await sync.reconcile(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, repair: false)
            #expect(clean.buckets == 72 && clean.differing.isEmpty)

            fixture.simulator.setGeneration(1)
            let found = try await sync.reconcile(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, repair: true)
            #expect(!found.differing.isEmpty)
            #expect(found.inserted > 0 && found.updated > 0 && found.deleted > 0)
            #expect(try await fixture.storedTruth() == fixture.dataset.groundTruth(generation: 1))
            let again = try await sync.reconcile(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, repair: false)
            #expect(again.differing.isEmpty, "\(again.differing)")
        }
    }

    @Test("a backfill stores its range and leaves the live cursor where it was")
    func backfillKeepsCursor() async throws {
        let fixture = try await SyncFixture()
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try fixture.sync(port: port)
            try await sync.register()
            let range = fixture.dataset.range
            // As `mtsync backfill` does: the accounts first, so the range's facts are decided rather than held.
            _ = try await sync.refreshReferenceData()
            let report = try await sync.pull(fromMilliseconds: range.lowerBound, toMilliseconds: range.lowerBound + 86_400_000, movingCursor: false)
            #expect(report.outcome.inserted == fixture.dataset.deals(onDay: fixture.dataset.configuration.firstDay).count)
            #expect(try await fixture.count("SELECT count(*) FROM sync_cursors WHERE stream = 'deals'") == 0)
        }
    }

    @Test("bridge faults (dropped connections, MetaTrader unavailable) are retried: the store still equals the truth")
    func bridgeFaults() async throws {
        let base = try await SyncFixture()
        let simulator = BridgeSimulator(
            dataset: base.dataset, key: SyncFixture.key,
            faults: SimulatorFaults(dropConnectionAfterRecords: 50, unavailableRequests: 3, dropConnectionTimes: 4))
        try await SimulatorHarness.run(simulator) { port in
            let sync = try base.sync(port: port, pageSize: 80)
            try await sync.register()
            _ = try await sync.pull()
            #expect(try await base.storedTruth() == base.dataset.groundTruth())
        }
    }
}
