import Foundation
import MTSyncStore
import MTSyncTestSupport
import Testing

/// Issue 20, finding 4: a one-shot command against a bridge that is down, or that is not a bridge at all, must end
/// with an exit code a cron job can act on, having said every failed attempt as it happened.
@Suite("One-shot commands against a broken bridge end, with 75, and say why")
struct BridgeDoorCLITests {
    @Test("mtsync sync against a bridge that refuses connections: every attempt logged, FAILING in status, exit 75 after bridge.give_up_after")
    func downBridge() async throws {
        let simulator = try SimulatorProcess.start(days: 1, dealsPerDay: 20)
        await simulator.stopped()  // its port is now closed: connection refused
        let database = try await TestDatabase.create()
        let migrate = try await CLI.launch(["migrate", "--database-url", database.url])
        try #require(migrate.status == 0, "\(migrate.stderr)")
        let url = try SyncConfiguration(databaseURL: database.url, servers: [simulator], leaseTTL: "30s", pageSize: 50)
            .write(to: simulator.folder.appending(path: "mtsync.yaml"))
        let text = try String(contentsOf: url, encoding: .utf8)
            .replacingOccurrences(of: "key_env: MTSYNC_TEST_BRIDGE_KEY\n", with: "key_env: MTSYNC_TEST_BRIDGE_KEY\n      give_up_after: 3s\n")
        try Data(text.utf8).write(to: url)

        let started = ContinuousClock.now
        let sync = try await CLI.launch(["sync", "--config", url.path], environment: simulator.environment)
        #expect(sync.status == 75, "\(sync.stdout)\(sync.stderr)")
        #expect(ContinuousClock.now - started < .seconds(30), "gave up after give_up_after, not never")
        let attempts = sync.stderr.components(separatedBy: "bridge attempt failed").count - 1
        #expect(attempts >= 2, "each failed attempt is a log line: \(sync.stderr)")
        #expect(sync.stderr.contains("cannot connect"))
        #expect(!sync.stderr.contains(simulator.key))

        let status = try await CLI.launch(["status", "--database-url", database.url, "--json"])
        let server = try #require((status.json?["servers"] as? [[String: Any]])?.first)
        let streams = try #require(server["streams"] as? [[String: Any]])
        #expect(streams.contains { ($0["last_error"] as? String)?.contains("cannot connect") == true }, "\(status.stdout)")
    }
}
