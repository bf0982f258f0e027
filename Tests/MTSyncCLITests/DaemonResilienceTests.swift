import Foundation
import MTSyncStore
import MTSyncTestSupport
import Testing

/// `mtsync run` against failures it must ride out by itself: the database restarting under it, and a second
/// instance dying while it holds servers. Real processes throughout: PostgreSQL, `mtbridge-sim` over TCP and the
/// built `mtsync`. The bounds are loose on purpose: CI has two cores and runs every suite at once.
@Suite("The daemon rides out a PostgreSQL restart and a dead instance")
struct DaemonResilienceTests {
    /// Polls `condition` every 200 ms until it holds or `timeout` has passed; says whether it held.
    static func eventually(within timeout: Duration, _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return await condition()
    }

    /// Closed records stored so far for one server (an MT4 trade counts once, not per leg); nil while the
    /// database cannot be reached.
    static func storedRecords(_ connection: PostgresConnection, server: String? = nil) async -> Int? {
        try? await connection.query("""
            SELECT count(DISTINCT (server_id, ticket)) FROM trading_facts WHERE \(server)::text IS NULL OR server_id = \(server)
            """)[0].decode(Int.self, 0)
    }

    static func total(_ truth: [String: [String: String]]) -> Int {
        truth.values.reduce(0) { $0 + (Int($1["deals"] ?? "") ?? 0) }
    }

    /// Nothing doubled: one fact per identity, one outbox event per fact (each with its own idempotency key),
    /// no fact updated (the history did not change, so any revision 2 would be a re-insert seen as an edit).
    static func expectNoDuplicates(_ connection: PostgresConnection) async throws {
        let row = try await connection.query("""
            SELECT (SELECT count(*) FROM trading_facts), (SELECT count(DISTINCT (server_id, ticket, leg)) FROM trading_facts),
                   (SELECT count(*) FROM fact_identities), (SELECT count(*) FROM fact_identities WHERE revision > 1),
                   (SELECT count(*) FROM outbox_events), (SELECT count(DISTINCT idempotency_key) FROM outbox_events)
            """)[0]
        let facts = try row.decode(Int.self, 0)
        #expect(facts > 0)
        #expect(try row.decode(Int.self, 1) == facts, "one fact per (server, ticket, leg)")
        #expect(try row.decode(Int.self, 2) == facts, "one identity per fact")
        #expect(try row.decode(Int.self, 3) == 0, "no fact stored twice as a new revision")
        #expect(try row.decode(Int.self, 4) == facts, "exactly one outbox event per fact")
        #expect(try row.decode(Int.self, 5) == facts, "no idempotency key twice in the outbox")
    }

    @Test("PostgreSQL restarted twice mid-sync: the daemon keeps running, resumes by itself, and the store equals the bridge")
    func postgresRestartMidSync() async throws {
        try await RestartableCluster.exclusively { cluster in
            // 8 000 deals in pages of 25, each page answered after 15 ms: a sync of several seconds at the least.
            let simulator = try SimulatorProcess.start(days: 4, dealsPerDay: 2_000, seed: 11, delayMilliseconds: 15)
            defer { simulator.stop() }
            let database = try await TestDatabase.create(clusterURL: cluster.url)
            let migrate = try await CLI.launch(["migrate", "--database-url", database.url])
            try #require(migrate.status == 0, "\(migrate.stderr)")
            let config = try SyncConfiguration(databaseURL: database.url, servers: [simulator], leaseTTL: "5s", pollInterval: "500ms", pageSize: 25)
                .write(to: simulator.folder.appending(path: "mtsync.yaml"))
            let truth = try await simulator.groundTruth()
            let total = Self.total(truth)
            try #require(total > 5_000)

            let daemon = try DaemonProcess(config: config, environment: simulator.environment)
            defer { daemon.stop() }
            let connection = try await database.connect()

            var storedAtLastRestart = 0
            for restart in 1...2 {
                // Mid-sync: some pages past the previous restart (so the daemon resumed), far from the end.
                let progressed = await Self.eventually(within: .seconds(90)) {
                    (await Self.storedRecords(connection) ?? 0) >= storedAtLastRestart + 250
                }
                let stored = await Self.storedRecords(connection) ?? 0
                try #require(progressed, "no progress before restart \(restart) (\(stored) of \(total) stored); the daemon said:\n\(daemon.logTail())")
                try #require(stored < total, "the sync finished before restart \(restart): the history is too short to restart mid-sync")
                try await cluster.restart()
                #expect(daemon.isRunning, "the daemon exited on restart \(restart):\n\(daemon.logTail())")
                storedAtLastRestart = stored
            }

            let complete = await Self.eventually(within: .seconds(120)) {
                (try? await SimulatorProcess.storedTruth(connection)) == truth
            }
            let stored = await Self.storedRecords(connection) ?? -1
            #expect(complete, "the store never reached the bridge's ground truth (\(stored) of \(total) records); the daemon said:\n\(daemon.logTail())")
            #expect(daemon.isRunning, "the daemon kept running through both restarts")
            try await Self.expectNoDuplicates(connection)
            #expect(await daemon.terminate() == 0, "SIGTERM after the restarts still stops it cleanly:\n\(daemon.logTail())")
        }
    }

    @Test("two daemons, the one holding a server mid-sync killed with SIGKILL: the other takes its servers within lease_ttl + poll, nothing lost or doubled")
    func survivorTakesOver() async throws {
        let simulators = [
            try SimulatorProcess.start(platform: "mt5", serverID: "sim-a", days: 3, dealsPerDay: 2_000, seed: 31, delayMilliseconds: 15),
            try SimulatorProcess.start(platform: "mt4", serverID: "sim-b", days: 3, dealsPerDay: 1_000, seed: 32, delayMilliseconds: 15),
        ]
        defer { simulators.forEach { $0.stop() } }
        let database = try await TestDatabase.create()
        let migrate = try await CLI.launch(["migrate", "--database-url", database.url])
        try #require(migrate.status == 0, "\(migrate.stderr)")
        var truths: [String: [String: [String: String]]] = [:]
        for simulator in simulators { truths[simulator.serverID] = try await simulator.groundTruth() }

        // Same servers, same database; only the instance names differ. A 5 s lease (1 s ones expire under the
        // load of the full parallel suite), polled every 500 ms: takeover within about 5.5 s.
        let owners = ["daemon-1", "daemon-2"]
        var daemons: [String: DaemonProcess] = [:]
        defer { daemons.values.forEach { $0.stop() } }
        for owner in owners {
            let config = try SyncConfiguration(databaseURL: database.url, servers: simulators, instanceID: owner, leaseTTL: "5s", pollInterval: "500ms", pageSize: 25)
                .write(to: simulators[0].folder.appending(path: "\(owner).yaml"))
            daemons[owner] = try DaemonProcess(config: config, environment: simulators[0].environment)
        }
        let connection = try await database.connect()

        /// Live leases: server → owner.
        func liveLeases() async -> [String: String] {
            guard let rows = try? await connection.query("SELECT server_id, owner FROM server_leases WHERE released_at IS NULL AND expires_at > now()") else { return [:] }
            var leases: [String: String] = [:]
            for row in rows { if let server = try? row.decode(String.self, 0), let owner = try? row.decode(String.self, 1) { leases[server] = owner } }
            return leases
        }

        // The victim: an instance holding a server it has started but not finished.
        var victim: String?
        let found = await Self.eventually(within: .seconds(90)) {
            for (server, owner) in await liveLeases() {
                let stored = await Self.storedRecords(connection, server: server) ?? 0
                if stored >= 100 && stored < Self.total(truths[server] ?? [:]) - 500 {
                    victim = owner
                    return true
                }
            }
            return false
        }
        try #require(found, "no instance was found mid-sync; daemon-1 said:\n\(daemons["daemon-1"]!.logTail())\ndaemon-2 said:\n\(daemons["daemon-2"]!.logTail())")
        let victimOwner = try #require(victim)
        let survivorOwner = try #require(owners.first { $0 != victimOwner })
        let victimDaemon = try #require(daemons[victimOwner]), survivor = try #require(daemons[survivorOwner])

        await victimDaemon.kill9()
        let killedAt = ContinuousClock.now
        let orphaned = await liveLeases().filter { $0.value == victimOwner }.map(\.key)
        try #require(!orphaned.isEmpty, "the killed instance held a lease when it died")

        let tookOver = await Self.eventually(within: .seconds(60)) {
            let leases = await liveLeases()
            return orphaned.allSatisfy { leases[$0] == survivorOwner }
        }
        let takeover = ContinuousClock.now - killedAt
        #expect(tookOver, "\(survivorOwner) took over \(orphaned.sorted()) within 60 s (lease_ttl 5 s + poll 0.5 s, loose for a loaded machine), took \(takeover); it said:\n\(survivor.logTail())")

        let complete = await Self.eventually(within: .seconds(180)) {
            for simulator in simulators {
                guard (try? await SimulatorProcess.storedTruth(connection, server: simulator.serverID)) == truths[simulator.serverID] else { return false }
            }
            return true
        }
        #expect(complete, "every server's store equals its bridge's ground truth; \(survivorOwner) said:\n\(survivor.logTail())")
        #expect(survivor.isRunning)
        try await Self.expectNoDuplicates(connection)
        #expect(await survivor.terminate() == 0, "\(survivor.logTail())")
    }
}
