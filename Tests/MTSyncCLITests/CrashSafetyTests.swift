import Foundation
import MTSyncCore
import MTSyncStore
import MTSyncTestSupport
import Testing

@Suite("Nothing lost, nothing doubled: kill -9 at random instants")
struct CrashSafetyTests {
    @Test("20 syncs killed with SIGKILL mid-flight, then one to the end: the store equals the bridge, one event per fact, the cursor never ahead")
    func killNineRepeatedly() async throws {
        // The bridge answers each page after 40 ms: some 225 pages make a sync of about 9 s at the least, longer
        // than all 20 kill delays together, so the syncs are killed mid-flight however fast the store gets.
        let simulator = try SimulatorProcess.start(days: 3, dealsPerDay: 3_000, delayMilliseconds: 40)
        defer { simulator.stop() }
        let database = try await TestDatabase.create()
        let migrate = try await CLI.launch(["migrate", "--database-url", database.url])
        #expect(migrate.status == 0, "\(migrate.stderr)")
        let config = try simulator.writeConfig(databaseURL: database.url, pageSize: 40)
        let environment = ["MTSYNC_TEST_BRIDGE_KEY": simulator.key]

        var random = SplitMix64(seed: 0x6B11_1E9)
        var killed = 0
        for _ in 0..<20 {
            let delay = Duration.milliseconds(Int.random(in: 150...900, using: &random))
            if try await CLI.killed(["sync", "--config", config.path], environment: environment, after: delay) { killed += 1 }
        }
        // A killed instance's lease expires after its ttl (2 s); the last sync must be able to take it.
        try await Task.sleep(for: .seconds(2.5))
        let final = try await CLI.launch(["sync", "--config", config.path, "--json"], environment: environment)
        #expect(final.status == 0, "\(final.stdout)\(final.stderr)")
        #expect(killed >= 10, "most syncs should have been killed mid-flight, not finished: \(killed)")

        let connection = try await database.connect()
        #expect(try await SimulatorProcess.storedTruth(connection) == (try await simulator.groundTruth()))
        let facts = try await connection.query("SELECT count(*) FROM trading_facts")[0].decode(Int.self, 0)
        #expect(try await connection.query("SELECT count(*) FROM outbox")[0].decode(Int.self, 0) == facts, "exactly one event per fact")
        #expect(try await connection.query("SELECT count(*) FROM fact_identities WHERE revision > 1")[0].decode(Int.self, 0) == 0)
        // The cursor is the newest stored deal's position, never a position without its data.
        let cursorAhead = try await connection.query("""
            SELECT count(*) FROM sync_cursors c WHERE c.stream = 'deals' AND NOT EXISTS (
                SELECT 1 FROM trading_facts t WHERE t.server_id = c.server_id AND t.server_time_msc = c.position_server_msc AND t.ticket = c.position_ticket)
            """)[0].decode(Int.self, 0)
        #expect(cursorAhead == 0)
    }

    @Test("a backfill killed mid-range resumes at its first unfinished chunk; the live cursor never moves")
    func backfillResumes() async throws {
        // 40 ms per page: the backfill's 120 pages take some 5 s at the least, so the kill lands mid-range
        // however fast the store is.
        let simulator = try SimulatorProcess.start(days: 3, dealsPerDay: 2_000, seed: 9, delayMilliseconds: 40)
        defer { simulator.stop() }
        let database = try await TestDatabase.create()
        #expect(try await CLI.launch(["migrate", "--database-url", database.url]).status == 0)
        let config = try simulator.writeConfig(databaseURL: database.url, pageSize: 50)
        let environment = ["MTSYNC_TEST_BRIDGE_KEY": simulator.key]
        let arguments = ["backfill", "--config", config.path, "--server", "sim-mt5", "--from", "2025-01-01", "--to", "2025-01-04", "--chunk", "6h"]

        let process = Process()
        process.executableURL = try CLI.binary()
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let exit = try process.runWatched()
        try await Task.sleep(for: .milliseconds(1_500))
        #expect(!exit.hasExited, "the backfill must still be running when it is killed")
        if !exit.hasExited { kill(process.processIdentifier, SIGKILL) }
        await exit.wait()

        let resumed = try await CLI.launch(arguments + ["--json"], environment: environment)
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any]
        #expect(summary?["chunks"] as? Int == 12)
        let connection = try await database.connect()
        #expect(try await SimulatorProcess.storedTruth(connection) == (try await simulator.groundTruth()))
        #expect(try await connection.query("SELECT count(*) FROM sync_cursors WHERE stream IN ('deals', 'trades', 'changes')")[0].decode(Int.self, 0) == 0,
                "a backfill leaves the live cursor alone (it records only when it read the accounts and symbols)")
        #expect(try await connection.query("SELECT count(*) FROM outbox WHERE event_kind LIKE 'fact.%'")[0].decode(Int.self, 0) == (try await connection.query("SELECT count(*) FROM trading_facts")[0].decode(Int.self, 0)))
        // The job was announced once (when it was created, not again when resumed) and completed once.
        let markers = try await connection.query("SELECT event_kind FROM outbox WHERE event_kind LIKE 'backfill.%' ORDER BY event_id").map { try $0.decode(String.self, 0) }
        #expect(markers == ["backfill.started", "backfill.completed"])
    }

    @Test("mtsync run syncs, then stops on SIGTERM with exit status 0 and releases its lease")
    func daemonStopsCleanly() async throws {
        let simulator = try SimulatorProcess.start(days: 1, dealsPerDay: 500, seed: 3)
        defer { simulator.stop() }
        let database = try await TestDatabase.create()
        #expect(try await CLI.launch(["migrate", "--database-url", database.url]).status == 0)
        let config = try simulator.writeConfig(databaseURL: database.url, pageSize: 100)
        let process = Process()
        process.executableURL = try CLI.binary()
        process.arguments = ["run", "--config", config.path]
        process.environment = ProcessInfo.processInfo.environment.merging(["MTSYNC_TEST_BRIDGE_KEY": simulator.key]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let exit = try process.runWatched()
        let connection = try await database.connect()
        let deadline = ContinuousClock.now + .seconds(30)
        var stored = 0
        // The simulator's day of 500 deals, with its reversals (three deals each, one in a hundred).
        let expected = 500 + 3 * (500 / 100)
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(300))
            stored = (try? await connection.query("SELECT count(*) FROM trading_facts")[0].decode(Int.self, 0)) ?? 0
            if stored == expected { break }
        }
        #expect(stored == expected)
        process.terminate()  // SIGTERM
        #expect(await exit.wait() == 0)
        let live = try await connection.query("SELECT count(*) FROM server_leases WHERE released_at IS NULL AND expires_at > now()")[0].decode(Int.self, 0)
        #expect(live == 0, "the lease was released on the way out")
    }
}
