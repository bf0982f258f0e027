import Foundation
import MTBridgeSimulator
import MTSyncStore
import MTSyncTestSupport
import Testing

@Suite("MT4 end to end: mtbridge-sim --platform mt4 → mtsync sync → PostgreSQL")
struct MT4SyncCLITests {
    @Test("mtsync sync of an MT4 server stores every closed trade record; per-login counts, lots and net equal the simulator's ground truth")
    func syncEqualsGroundTruth() async throws {
        let simulator = try SimulatorProcess.start(platform: "mt4", days: 3, dealsPerDay: 400, seed: 13)
        defer { simulator.stop() }
        let database = try await TestDatabase.create()
        let migrate = try await CLI.launch(["migrate", "--database-url", database.url])
        try #require(migrate.status == 0, "\(migrate.stderr)")
        // The default 30 s lease: this test is about MT4, not about a sync outliving its lease on a loaded machine.
        let config = try SyncConfiguration(databaseURL: database.url, servers: [simulator], leaseTTL: "30s", pageSize: 50)
            .write(to: simulator.folder.appending(path: "mtsync.yaml"))

        let sync = try await CLI.launch(["sync", "--config", config.path, "--json"], environment: simulator.environment)
        #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
        let summary = try #require((sync.json?["servers"] as? [[String: Any]])?.first, "\(sync.stdout)")
        #expect(summary["server"] as? String == "sim-mt4")
        #expect(summary["status"] as? String == "synced")
        #expect((summary["pages"] as? Int ?? 0) > 1, "small pages: the history took several")
        #expect(summary["quarantined"] as? Int == 0)

        let connection = try await database.connect()
        let truth = try await simulator.groundTruth()
        try #require(truth.count > 1)
        #expect(try await SimulatorProcess.storedTruth(connection) == truth)

        // A closed trade is two facts, its open and its close leg; balance and credit operations one (leg 0); an open
        // trade (the `trades` request's open set) its open leg, stored as it opened.
        let legs = try await connection.query("""
            SELECT count(*) FILTER (WHERE leg = 1), count(*) FILTER (WHERE leg = 2), count(*) FILTER (WHERE platform <> 'mt4')
            FROM trading_facts
            """)[0]
        let opens = try legs.decode(Int.self, 0), closes = try legs.decode(Int.self, 1)
        // The same dataset in process: the simulator's defaults (20 logins, from 2025-01-01) and this test's seed and size.
        let openTrades = SimulatedDataset(.init(seed: 13, serverID: "sim-mt4", days: 3, dealsPerDay: 400, platform: .mt4)).openTrades().count
        #expect(openTrades > 0)
        #expect(closes > 0 && opens == closes + openTrades, "every closed trade has both legs, every open one its open leg: \(opens) open, \(closes) close, \(openTrades) open trades")
        #expect(try legs.decode(Int.self, 2) == 0)
        let facts = try await connection.query("SELECT count(*) FROM trading_facts")[0].decode(Int.self, 0)
        #expect(try await connection.query("SELECT count(*) FROM outbox")[0].decode(Int.self, 0) == facts, "exactly one event per fact")

        // Again: the lookback is re-read, nothing is new, nothing doubled.
        let again = try await CLI.launch(["sync", "--config", config.path, "--json"], environment: simulator.environment)
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        let second = try #require((again.json?["servers"] as? [[String: Any]])?.first)
        #expect(second["inserted"] as? Int == 0 && second["updated"] as? Int == 0)
        #expect(try await connection.query("SELECT count(*) FROM outbox")[0].decode(Int.self, 0) == facts)
    }
}
