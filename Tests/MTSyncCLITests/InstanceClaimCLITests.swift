import Foundation
import MTSyncStore
import MTSyncTestSupport
import Testing

/// Issue 20, finding 6: two `mtsync run` started with the same `instance.id` both worked every server, because a
/// lease whose owner was "my instance id" counted as "mine". Real processes against the real PostgreSQL: what
/// matters here is how processes and their sessions live and die.
@Suite("One daemon per instance id")
struct InstanceClaimCLITests {
    /// The live lease of `server`: holder pid and generation; nil when nobody holds it.
    static func liveLease(_ connection: PostgresConnection, server: String) async -> (pid: Int32, generation: Int64)? {
        guard let rows = try? await connection.query("""
            SELECT holder_pid, generation FROM server_leases WHERE server_id = \(server) AND released_at IS NULL AND expires_at > now()
            """), let row = rows.first, let pid = try? row.decode(Int32?.self, 0), let generation = try? row.decode(Int64.self, 1) else { return nil }
        return (pid, generation)
    }

    struct Setup {
        let simulator: SimulatorProcess
        let database: TestDatabase
        let config: URL
        let connection: PostgresConnection
    }

    /// A bridge with a few seconds of history, a migrated database and a configuration with a 60 s lease: anything
    /// that happens well within 60 s did not wait for a lease to expire.
    static func setUp(seed: Int) async throws -> Setup {
        let simulator = try SimulatorProcess.start(days: 2, dealsPerDay: 2_000, seed: seed, delayMilliseconds: 15)
        let database = try await TestDatabase.create()
        let migrate = try await CLI.launch(["migrate", "--database-url", database.url])
        try #require(migrate.status == 0, "\(migrate.stderr)")
        let config = try SyncConfiguration(databaseURL: database.url, servers: [simulator], instanceID: "prod-1", leaseTTL: "60s", pollInterval: "500ms", pageSize: 25)
            .write(to: simulator.folder.appending(path: "mtsync.yaml"))
        return Setup(simulator: simulator, database: database, config: config, connection: try await database.connect())
    }

    @Test("a second `mtsync run` with the same instance.id exits 75 naming the first's host and pid; the first keeps its server")
    func secondDaemonIsRefused() async throws {
        let setup = try await Self.setUp(seed: 41)
        defer { setup.simulator.stop() }
        let first = try DaemonProcess(config: setup.config, environment: setup.simulator.environment)
        defer { first.stop() }
        let server = setup.simulator.serverID
        let held = await DaemonResilienceTests.eventually(within: .seconds(60)) { await Self.liveLease(setup.connection, server: server)?.pid == first.pid }
        try #require(held, "the first daemon never took its server; it said:\n\(first.logTail())")
        let before = try #require(await Self.liveLease(setup.connection, server: server))

        // Before the fix the second simply ran: bounded, so that shows as a failure rather than a hang.
        let second = try DaemonProcess(config: setup.config, environment: setup.simulator.environment)
        defer { second.stop() }
        let exited = await DaemonResilienceTests.eventually(within: .seconds(30)) { !second.isRunning }
        try #require(exited, "the second daemon of the instance kept running; it said:\n\(second.logTail())")
        #expect(await second.exit.wait() == 75, "\(second.logText)")
        #expect(second.logText.contains("process \(first.pid) on host \(ProcessInfo.processInfo.hostName)"), "\(second.logText)")
        #expect(second.logText.contains("\"prod-1\""), "\(second.logText)")

        // The first kept its tenure throughout: same process, same generation, still running.
        #expect(first.isRunning)
        let after = try #require(await Self.liveLease(setup.connection, server: server))
        #expect(after.pid == first.pid)
        #expect(after.generation == before.generation)

        // status names the holding process.
        let status = try await CLI.launch(["status", "--database-url", setup.database.url])
        #expect(status.stdout.contains("prod-1 (host \(ProcessInfo.processInfo.hostName), pid \(first.pid))"), "\(status.stdout)")
        #expect(await first.terminate() == 0, "\(first.logTail())")
    }

    @Test("a daemon killed with SIGKILL and started again takes its server back at once, not after the 60 s lease, and nothing is lost or doubled")
    func restartAfterKillTakesBackAtOnce() async throws {
        let setup = try await Self.setUp(seed: 42)
        defer { setup.simulator.stop() }
        let server = setup.simulator.serverID
        let truth = try await setup.simulator.groundTruth()
        let total = DaemonResilienceTests.total(truth)

        let first = try DaemonProcess(config: setup.config, environment: setup.simulator.environment)
        defer { first.stop() }
        // Killed mid-sync, holding its server.
        let midSync = await DaemonResilienceTests.eventually(within: .seconds(90)) {
            let stored = await DaemonResilienceTests.storedRecords(setup.connection) ?? 0
            return stored >= 100 && stored < total - 500
        }
        try #require(midSync, "the first daemon never got mid-sync; it said:\n\(first.logTail())")
        let before = try #require(await Self.liveLease(setup.connection, server: server))
        try #require(before.pid == first.pid)
        await first.kill9()
        let killedAt = ContinuousClock.now

        let second = try DaemonProcess(config: setup.config, environment: setup.simulator.environment)
        defer { second.stop() }
        let tookBack = await DaemonResilienceTests.eventually(within: .seconds(40)) {
            await Self.liveLease(setup.connection, server: server)?.pid == second.pid
        }
        let took = ContinuousClock.now - killedAt
        #expect(tookBack, "the restarted daemon did not take its server back within 40 s (the lease lasts 60 s); it said:\n\(second.logTail())")
        #expect(took < .seconds(40))
        let after = try #require(await Self.liveLease(setup.connection, server: server))
        #expect(after.generation > before.generation, "a takeover is a new tenure: the dead process's pages are fenced")

        let complete = await DaemonResilienceTests.eventually(within: .seconds(120)) {
            (try? await SimulatorProcess.storedTruth(setup.connection)) == truth
        }
        #expect(complete, "the store equals the bridge's ground truth; the daemon said:\n\(second.logTail())")
        try await DaemonResilienceTests.expectNoDuplicates(setup.connection)
        #expect(await second.terminate() == 0, "\(second.logTail())")
    }

    @Test("with --wait, a second daemon of the instance waits, naming the first, and takes over when it stops")
    func waitingDaemonTakesOver() async throws {
        let setup = try await Self.setUp(seed: 43)
        defer { setup.simulator.stop() }
        let server = setup.simulator.serverID
        let first = try DaemonProcess(config: setup.config, environment: setup.simulator.environment)
        defer { first.stop() }
        let held = await DaemonResilienceTests.eventually(within: .seconds(60)) { await Self.liveLease(setup.connection, server: server)?.pid == first.pid }
        try #require(held, "the first daemon never took its server; it said:\n\(first.logTail())")

        let second = try DaemonProcess(config: setup.config, environment: setup.simulator.environment, arguments: ["--wait"])
        defer { second.stop() }
        let waiting = await DaemonResilienceTests.eventually(within: .seconds(30)) { second.logText.contains("waiting for the instance id to be free") }
        #expect(waiting, "\(second.logTail())")
        #expect(second.logText.contains("process \(first.pid)"), "\(second.logTail())")
        #expect(second.isRunning)
        #expect(await Self.liveLease(setup.connection, server: server)?.pid == first.pid)

        #expect(await first.terminate() == 0, "\(first.logTail())")
        let tookOver = await DaemonResilienceTests.eventually(within: .seconds(40)) { await Self.liveLease(setup.connection, server: server)?.pid == second.pid }
        #expect(tookOver, "\(second.logTail())")
        #expect(await second.terminate() == 0, "\(second.logTail())")
    }
}
