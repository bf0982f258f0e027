import Foundation
import MTSyncStore
import MTSyncTestSupport
import Testing

@Suite("mtsync sync under its lease")
struct SyncLeaseCLITests {
    @Test("a sync that outlives lease_ttl keeps its lease by renewing it, and stores the whole history")
    func syncOutlivesLeaseTTL() async throws {
        // About 100 pages, each answered after 30 ms: a whole pull takes 3 s at the least, three times the lease.
        let simulator = try SimulatorProcess.start(days: 1, dealsPerDay: 2_500, seed: 17, delayMilliseconds: 30)
        defer { simulator.stop() }
        let database = try await TestDatabase.create()
        let migrate = try await CLI.launch(["migrate", "--database-url", database.url])
        try #require(migrate.status == 0, "\(migrate.stderr)")
        let config = try SyncConfiguration(databaseURL: database.url, servers: [simulator], leaseTTL: "1s", pageSize: 25)
            .write(to: simulator.folder.appending(path: "mtsync.yaml"))

        let sync = try await CLI.launch(["sync", "--config", config.path, "--json"], environment: simulator.environment)
        let connection = try await database.connect()
        // The pull outlives three lease terms; it renews the lease as it goes, so no page is refused.
        let stored = try await SimulatorProcess.storedTruth(connection)
        let truth = try await simulator.groundTruth()
        #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
        #expect(stored == truth)
    }
}
