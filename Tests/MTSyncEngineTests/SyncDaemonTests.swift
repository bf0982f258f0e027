import Foundation
import Logging
import MTSyncBridge
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import MTSyncTestSupport
import Testing

@Suite("Sync daemon: trailing reconcile, lease loss, status")
struct SyncDaemonTests {
    /// Runs the daemon until `done` holds (checked every 100 ms, at most `limit`), then cancels it.
    static func run(_ daemon: SyncDaemon, limit: Duration = .seconds(60), until done: @escaping @Sendable () async throws -> Bool) async throws -> Bool {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await daemon.run()
                return false
            }
            let deadline = ContinuousClock.now + limit
            var reached = false
            while ContinuousClock.now < deadline {
                if try await done() {
                    reached = true
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            group.cancelAll()
            while try await group.next() != nil {}
            return reached
        }
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "mtsync-test")
        logger.logLevel = .critical
        return logger
    }

    @Test("after its pull the daemon reconciles with repair when one is due: late deals the pull cannot see are stored, and the run is recorded once per interval")
    func trailingReconcileRepairsAndIsRecorded() async throws {
        let fixture = try await SyncFixture()
        try await SimulatorHarness.run(fixture.simulator) { port in
            // No lookback: the deals the bridge back-dates after the first pull are invisible to incremental pulls.
            let sync = try fixture.sync(port: port, lookback: .zero)
            try await sync.register()
            _ = try await sync.pull()
            fixture.simulator.setGeneration(1)

            let range = fixture.dataset.range
            let reconcile = TrailingReconcile(every: .seconds(3600)) {
                try await sync.recordedReconcile(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, repair: true, owner: "daemon-a")
            }
            let job = SyncJob(serverID: sync.serverID, pollInterval: .milliseconds(200), jitter: 0, trailingReconcile: reconcile) { try await sync.pull() }
            let daemon = SyncDaemon(jobs: [job], owner: "daemon-a", leaseTTL: .seconds(10), connection: fixture.connection, logger: Self.quietLogger)
            let reconciled = try await Self.run(daemon) {
                try await fixture.count("SELECT count(*) FROM jobs WHERE kind = 'reconcile' AND state = 'succeeded'") >= 1
            }
            #expect(reconciled)
            #expect(try await fixture.storedTruth() == fixture.dataset.groundTruth(generation: 1))

            // A second daemon (a restart) polls again but does not reconcile again within the interval.
            let again = SyncDaemon(jobs: [job], owner: "daemon-b", leaseTTL: .seconds(10), connection: fixture.connection, logger: Self.quietLogger)
            _ = try await Self.run(again, limit: .seconds(2)) { false }
            #expect(try await fixture.count("SELECT count(*) FROM jobs WHERE kind = 'reconcile'") == 1)

            let status = try #require(try await ServerStatus.read(serverID: sync.serverID.rawValue, on: fixture.connection).first)
            let last = try #require(status.lastReconcile)
            #expect(last.state == "succeeded")
            #expect(last.outcome?.buckets == 72)
            #expect((last.outcome?.differing ?? 0) > 0)
            #expect((last.outcome?.inserted ?? 0) > 0)
        }
    }

    @Test("a bridge stuck past its deadlines: the failed pull shows FAILING and the lease is handed over, so another instance may take the server")
    func stuckBridgeReleasesTheLease() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        let server = try ServerID("stuck-mt5")
        try await FactStore.register(serverID: server, platform: .mt5, zone: "UTC", on: connection)
        let job = SyncJob(serverID: server, pollInterval: .seconds(30), jitter: 0) {
            throw BridgeClientError(endpoint: "127.0.0.1:1", kind: .timeout, retryable: true, reason: "`deals` did not finish within 10 minutes (bridge.request_timeout)", protocolError: nil)
        }
        let daemon = SyncDaemon(jobs: [job], owner: "daemon-a", leaseTTL: .seconds(60), connection: connection, logger: Self.quietLogger)
        let released = try await Self.run(daemon, limit: .seconds(20)) {
            let status = try await ServerStatus.read(serverID: server.rawValue, on: connection).first
            return status?.lease?.released == true && status?.streams.contains { $0.failing } == true
        }
        #expect(released, "the lease is released well before its 60 s expiry, and the server shows FAILING")
        // Another instance takes it at once.
        #expect(try await ServerLease.acquire(serverID: server.rawValue, holder: .thisProcess(instanceID: "daemon-b"), ttl: .seconds(60), on: connection) != nil)
    }

    @Test("a reconcile of a range already running elsewhere does not start")
    func concurrentReconcileIsRefused() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        let server = try ServerID("busy-mt5")
        try await FactStore.register(serverID: server, platform: .mt5, zone: "UTC", on: connection)
        let first = try await ReconcileRun.begin(serverID: server, fromMilliseconds: 0, toMilliseconds: 3_600_000, bucketMilliseconds: 3_600_000, repair: true, owner: "a", on: connection)
        #expect(first != nil)
        let second = try await ReconcileRun.begin(serverID: server, fromMilliseconds: 0, toMilliseconds: 3_600_000, bucketMilliseconds: 3_600_000, repair: true, owner: "b", on: connection)
        #expect(second == nil)
        #expect(try await ReconcileRun.isDue(serverID: server, every: .seconds(60), on: connection) == false)
        try await first?.fail("test", on: connection)
        #expect(try await ReconcileRun.isDue(serverID: server, every: .seconds(60), on: connection))
    }

    @Test("an operator's cursor change fences the daemon mid-pull: it takes the lease again and goes on, with no error recorded")
    func leaseLossIsNotAFailure() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        let server = try ServerID("fenced-mt5")
        try await FactStore.register(serverID: server, platform: .mt5, zone: "UTC", on: connection)
        let pulls = PullCounter()
        // A pull that takes a while, so the operator's change lands while it runs and the renewal sees it.
        let job = SyncJob(serverID: server, pollInterval: .milliseconds(100), jitter: 0) {
            await pulls.increment()
            try await Task.sleep(for: .seconds(2))
            return SyncReport()
        }
        let daemon = SyncDaemon(jobs: [job], owner: "daemon-a", leaseTTL: .milliseconds(1500), connection: connection, logger: Self.quietLogger)
        let recovered = try await Self.run(daemon) {
            let count = await pulls.value
            if count == 1, await pulls.fenced == false {
                try await Task.sleep(for: .milliseconds(200))
                try await CursorControl.set(
                    serverID: server.rawValue, stream: .deals, position: CursorPosition(serverTimeMilliseconds: 1_000, ticket: 1),
                    by: "test@host", reason: "read again", on: connection)
                await pulls.markFenced()
            }
            return count >= 2
        }
        #expect(recovered)
        let status = try #require(try await ServerStatus.read(serverID: server.rawValue, on: connection).first)
        #expect(status.streams.allSatisfy { $0.lastErrorAtMilliseconds == nil })
        #expect(status.lease?.owner == "daemon-a")
        #expect((status.lease?.generation ?? 0) >= 2)  // the fence moved it on
    }

    @Test("a pull fenced by a tenure that an operator's cursor change ended stores nothing and says the lease was lost")
    func fencedPagesAreRefused() async throws {
        let fixture = try await SyncFixture(days: 1, dealsPerDay: 40)
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try fixture.sync(port: port)
            try await sync.register()
            let lease = try #require(try await ServerLease.acquire(serverID: sync.serverID.rawValue, holder: .test("daemon-a"), ttl: .seconds(30), on: fixture.connection))
            try await CursorControl.set(
                serverID: sync.serverID.rawValue, stream: .deals, position: CursorPosition(serverTimeMilliseconds: 1_000, ticket: 1),
                by: "test@host", reason: "re-sync", on: fixture.connection)
            do {
                _ = try await ServerLease.$fence.withValue(lease) { try await sync.pull() }
                Issue.record("a pull under an ended tenure must be refused")
            } catch let error as StoreRefusal {
                #expect(error.code == .lost)
            }
            #expect(try await fixture.count("SELECT count(*) FROM trading_facts") == 0)

            // Under the tenure taken again, the same pull goes through.
            let again = try #require(try await ServerLease.acquire(serverID: sync.serverID.rawValue, holder: .test("daemon-a"), ttl: .seconds(30), on: fixture.connection))
            _ = try await ServerLease.$fence.withValue(again) { try await sync.pull() }
            #expect(try await fixture.storedTruth() == fixture.dataset.groundTruth())
        }
    }

    @Test("status of a server: cursor, lag through the server's zone, open quarantine, outbox backlog and the last error")
    func statusFields() async throws {
        let fixture = try await SyncFixture(days: 1, dealsPerDay: 40)
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try fixture.sync(port: port)
            try await sync.register()
            _ = try await sync.pull()
            try await FactStore.recordError(serverID: sync.serverID, stream: .deals, message: "bridge refused", on: fixture.connection)
            try await fixture.connection.query("""
                INSERT INTO quarantine (server_id, stream, source, reason_code, reason, raw) VALUES ('sim-mt5', 'deals', 'tcp', 'test', 'test', '\\x00')
                """)
            let status = try #require(try await ServerStatus.read(on: fixture.connection).first)
            let deals = try #require(status.streams.first { $0.stream == "deals" })
            let facts = try await fixture.count("SELECT count(*) FROM trading_facts")
            #expect(status.serverID == "sim-mt5" && status.platform == "mt5" && status.timeZone == "ny-close")
            #expect(deals.positionServerMilliseconds > 0)
            // ny-close is UTC+2 in winter: the UTC instant is two hours before the server's wall clock.
            #expect(deals.positionUTCMilliseconds == deals.positionServerMilliseconds - 7_200_000)
            #expect((deals.lagSeconds ?? 0) > 0)
            #expect(deals.failing && deals.lastError == "bridge refused")
            #expect(status.openQuarantine == 1)
            #expect(status.outbox.pending == Int64(facts) && status.outbox.parked == 0)
            #expect(status.lastReconcile == nil)
        }
    }
}

actor PullCounter {
    private(set) var value = 0
    private(set) var fenced = false
    func increment() { value += 1 }
    func markFenced() { fenced = true }
}
