import Foundation
import MTSyncStore
import MTSyncTestSupport
import Testing

/// docs/security.md, "Least privilege" (issue 20): the owner runs `mtsync migrate`, which makes the fact partitions
/// ahead and grants a runtime role row privileges only; `mtsync sync`, `run` and `status` work under that role.
/// (The role storing a year of new months, and upkeep refused under it: `FactPartitionTests`.)
@Suite("Two database roles: the owner migrates, the runtime role syncs")
struct LeastPrivilegeCLITests {
    /// `url` with another user and password.
    static func url(_ url: String, user: String, password: String) throws -> String {
        var components = try #require(URLComponents(string: url))
        components.user = user
        components.password = password
        return try #require(components.string)
    }

    @Test("the owner migrates and grants; the runtime role, without CREATE, syncs the whole history, runs the daemon and reads status")
    func runtimeRoleSyncs() async throws {
        let simulator = try await SimulatorProcess.launch(days: 3, dealsPerDay: 200, seed: 23)
        let database = try await TestDatabase.create()
        let role = "mtsync_runtime_" + UUID().uuidString.prefix(8).lowercased()
        let password = UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let owner = try await database.connect()
        try await owner.execute(script: "CREATE ROLE \(role) LOGIN PASSWORD '\(password)'")

        // The history starts 2025-01-01 in the server's zone (ny-close: the evening before in UTC).
        let migrate = try await CLI.launch(["migrate", "--json", "--database-url", database.url, "--partitions-from", "2024-12", "--grant-runtime", role])
        try #require(migrate.status == 0, "\(migrate.stdout)\(migrate.stderr)")
        #expect(migrate.json?["granted_runtime_role"] as? String == role)
        let made = (migrate.json?["partitions"] as? [String: Any])?["created"] as? [String]
        #expect(made?.first == "2024-12")
        let partitions: PostgresQuery = "SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'trading_facts'::regclass"
        let partitionsBefore = try await owner.query(partitions)[0].decode(Int.self, 0)

        let runtimeURL = try Self.url(database.url, user: role, password: password)
        let config = try SyncConfiguration(databaseURL: runtimeURL, servers: [simulator], pageSize: 50).write(to: simulator.folder.appending(path: "runtime.yaml"))
        let sync = try await CLI.launch(["sync", "--config", config.path, "--json"], environment: simulator.environment)
        #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
        let truth = try await simulator.groundTruth()
        #expect(try await SimulatorProcess.storedTruth(owner) == truth)
        #expect(try await owner.query("SELECT count(*)::int FROM trading_facts_default")[0].decode(Int.self, 0) == 0)
        #expect(try await owner.query(partitions)[0].decode(Int.self, 0) == partitionsBefore)

        // The daemon under the same role: its upkeep finds every month made, so it has nothing to do, and it syncs on.
        let daemon = try DaemonProcess(config: config, environment: simulator.environment)
        defer { daemon.stop() }
        try await Task.sleep(for: .seconds(3))
        #expect(daemon.isRunning, "\(daemon.logTail())")
        #expect(await daemon.terminate() == 0, "\(daemon.logTail())")
        #expect(!daemon.logTail(lines: 200).contains("making fact partitions failed"), "\(daemon.logTail())")

        let status = try await CLI.launch(["status", "--database-url", runtimeURL])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("Fact partitions 2024-12 …"), "\(status.stdout)")
        #expect(!status.stdout.contains("Warning"), "\(status.stdout)")

        // And it cannot migrate: that stays the owner's.
        let refused = try await CLI.launch(["migrate", "--database-url", runtimeURL, "--partitions-ahead", "40"])
        #expect(refused.status != 0, "\(refused.stdout)")
        await simulator.stopped()
    }
}
