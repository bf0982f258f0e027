import Foundation
import MTSyncStore
import MTSyncTestSupport
import Testing

@Suite("Server leases")
struct ServerLeaseTests {
    static func addServer(_ id: String, on connection: PostgresConnection) async throws {
        try await connection.query("INSERT INTO servers (server_id, platform, time_zone) VALUES (\(id), 'mt5', 'Europe/Athens')")
    }

    @Test("two instances racing for the same server: exactly one wins each round, and the generation grows by one per tenure")
    func race() async throws {
        let (database, setup) = try await TestDatabase.migrated()
        let rounds = 40
        for round in 0..<rounds { try await Self.addServer("fresh-\(round)", on: setup) }
        try await Self.addServer("shared", on: setup)
        let a = try await database.connect(), b = try await database.connect()

        for round in 0..<rounds {
            // A server nobody ever held (both INSERT; one conflicts) and one just released (both UPDATE).
            for server in ["fresh-\(round)", "shared"] {
                async let leaseA = ServerLease.acquire(serverID: server, holder: .test("instance-a"), ttl: .seconds(60), on: a)
                async let leaseB = ServerLease.acquire(serverID: server, holder: .test("instance-b"), ttl: .seconds(60), on: b)
                let winners = [try await leaseA, try await leaseB].compactMap { $0 }
                try #require(winners.count == 1, "round \(round), \(server): \(winners.map(\.owner))")
                let winner = winners[0]
                #expect(winner.generation == (server == "shared" ? Int64(round + 1) : 1))
                #expect(winner.isLive)
                if server == "shared" {
                    #expect(try await ServerLease.release(winner, on: winner.owner == "instance-a" ? a : b))
                }
            }
        }
        let holders = try await ServerLease.holders(on: setup)
        #expect(holders.count == rounds + 1)
        #expect(holders.first { $0.serverID == "shared" }?.releasedAt != nil)
    }

    @Test("a live lease is refused to others and renewed for its owner; an expired one is taken over with a higher generation")
    func expiryAndTakeover() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        try await Self.addServer("live-mt5", on: connection)

        // Long enough that a loaded machine's pauses cannot expire it between these steps.
        let first = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("a"), ttl: .seconds(60), on: connection))
        #expect(first.generation == 1)
        #expect(first.remaining > .zero && first.remaining <= .seconds(60))
        #expect(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("b"), ttl: .seconds(60), on: connection) == nil)
        // Asking again as the holder renews the same tenure.
        let again = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("a"), ttl: .seconds(60), on: connection))
        #expect(again.generation == 1)
        #expect(again.acquiredAt == first.acquiredAt)
        // The last renewal is short: the lease then expires unless renewed again.
        let renewed = try await ServerLease.renew(again, ttl: .seconds(2), on: connection)
        #expect(renewed.generation == 1)

        try await Task.sleep(for: .milliseconds(2_500))
        let taken = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("b"), ttl: .seconds(60), on: connection))
        #expect(taken.owner == "b")
        #expect(taken.generation == 2)

        // The old holder's renewal fails: it must stop writing.
        await #expect(throws: StoreRefusal.self) { try await ServerLease.renew(renewed, ttl: .seconds(60), on: connection) }
        do {
            try await ServerLease.renew(renewed, ttl: .seconds(60), on: connection)
        } catch let error as StoreRefusal {
            #expect(error.code == .lost)
            #expect(error.message.contains("b (host test-host, pid 4242) took it over"))
        }
        // Releasing someone else's lease does nothing.
        #expect(try await ServerLease.release(renewed, on: connection) == false)
        #expect(try await ServerLease.holders(on: connection).map(\.owner) == ["b"])
    }

    @Test("an owner whose own lease expired gets a new tenure from acquire, so its old generation is fenced off")
    func ownExpiredLeaseIsANewTenure() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        try await Self.addServer("live-mt5", on: connection)
        let first = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("a"), ttl: .milliseconds(100), on: connection))
        try await Task.sleep(for: .milliseconds(250))
        let second = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("a"), ttl: .seconds(60), on: connection))
        #expect(second.generation == 2)
        await #expect(throws: StoreRefusal.self) { try await ServerLease.renew(first, ttl: .seconds(60), on: connection) }
    }

    @Test("an expired lease nobody took is still its tenure: renew revives it with the same generation, and its pages pass")
    func expiredUntakenLeaseRenews() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        try await Self.addServer("live-mt5", on: connection)
        let first = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("a"), ttl: .milliseconds(100), on: connection))
        try await Task.sleep(for: .milliseconds(250))
        try await connection.transaction { connection in
            try ServerLease.assertHeld(serverID: "live-mt5", owner: "a", generation: first.generation, on: connection)
        }
        let renewed = try await ServerLease.renew(first, ttl: .seconds(60), on: connection)
        #expect(renewed.generation == first.generation)
        #expect(renewed.isLive)
        #expect(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("b"), ttl: .seconds(60), on: connection) == nil)
    }

    /// The CI failure of stop 26: the holder's renewal waited behind its own page, which holds the lease row
    /// `FOR SHARE`; the page outlived the lease, and the renewal that then ran found it expired and called it lost.
    @Test("a renewal that waited behind the holder's own page longer than the lease keeps the tenure")
    func renewalBehindOwnSlowPage() async throws {
        let (database, connection) = try await TestDatabase.migrated()
        try await Self.addServer("live-mt5", on: connection)
        let lease = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("a"), ttl: .seconds(1), on: connection))
        let renewer = try await database.connect()
        async let page: Void = connection.transaction { connection in
            try ServerLease.assertHeld(serverID: "live-mt5", owner: "a", generation: lease.generation, on: connection)
            try connection.query("SELECT pg_sleep(2.5)")
        }
        try await Task.sleep(for: .milliseconds(300))
        let renewed = try await ServerLease.renew(lease, ttl: .seconds(1), on: renewer)
        try await page
        #expect(renewed.generation == lease.generation)
        #expect(renewed.isLive, "the renewal measured its new expiry from when it ran, not from when it began to wait")
    }

    @Test("release lets another instance take the server at once")
    func releaseHandsOver() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        try await Self.addServer("live-mt5", on: connection)
        let lease = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("a"), ttl: .seconds(3600), on: connection))
        #expect(try await ServerLease.release(lease, on: connection))
        #expect(try await ServerLease.release(lease, on: connection) == false)
        let next = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("b"), ttl: .seconds(3600), on: connection))
        #expect(next.generation == 2)
        await #expect(throws: StoreRefusal.self) { try await ServerLease.renew(lease, ttl: .seconds(60), on: connection) }
    }

    @Test("assertHeld passes for the current tenure and refuses a stale generation, another owner, a released lease")
    func fencing() async throws {
        let (database, connection) = try await TestDatabase.migrated()
        try await Self.addServer("live-mt5", on: connection)
        try await Self.addServer("idle", on: connection)
        let first = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("a"), ttl: .seconds(5), on: connection))
        try await connection.transaction { connection in
            try ServerLease.assertHeld(serverID: "live-mt5", owner: "a", generation: first.generation, on: connection)
        }
        try await Task.sleep(for: .milliseconds(5_500))
        // Expired, though nobody took it yet: still a's tenure (nobody else can have written in between).
        try await connection.transaction { connection in
            try ServerLease.assertHeld(serverID: "live-mt5", owner: "a", generation: 1, on: connection)
        }
        let second = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("b"), ttl: .seconds(60), on: connection))
        for (owner, generation) in [("a", first.generation), ("b", first.generation), ("a", second.generation)] {
            await #expect(throws: StoreRefusal.self, "\(owner) in generation \(generation)") {
                try await connection.transaction { connection in
                    try ServerLease.assertHeld(serverID: "live-mt5", owner: owner, generation: generation, on: connection)
                }
            }
        }
        try await connection.transaction { connection in
            try ServerLease.assertHeld(serverID: "live-mt5", owner: "b", generation: second.generation, on: connection)
        }
        await #expect(throws: StoreRefusal.self) {
            try await connection.run { connection in try ServerLease.assertHeld(serverID: "idle", owner: "b", generation: 1, on: connection) }
        }

        // A released lease no longer passes either.
        let other = try await database.connect()
        #expect(try await ServerLease.release(second, on: other))
        await #expect(throws: StoreRefusal.self) {
            try await connection.run { connection in try ServerLease.assertHeld(serverID: "live-mt5", owner: "b", generation: second.generation, on: connection) }
        }
    }

    @Test("a takeover waits for the page transaction that holds the lease row")
    func takeoverWaitsForPage() async throws {
        let (database, connection) = try await TestDatabase.migrated()
        try await Self.addServer("live-mt5", on: connection)
        // A lease long enough that the page below starts inside it even on a loaded 2-core machine (5 s was not).
        let lease = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("a"), ttl: .seconds(10), on: connection))
        let taker = try await database.connect()
        let started = ContinuousClock.now
        async let page: Void = connection.transaction { connection in
            try ServerLease.assertHeld(serverID: "live-mt5", owner: "a", generation: lease.generation, on: connection)
            // A slow page, outliving the lease: pg_sleep keeps the row lock, as storing a big page would.
            try connection.query("SELECT pg_sleep(1.6)")
        }
        try await Task.sleep(for: .milliseconds(10_500))
        // The lease has expired by now, but the page holds the row FOR SHARE: the takeover blocks until it commits.
        let taken = try await ServerLease.acquire(serverID: "live-mt5", holder: .test("b"), ttl: .seconds(60), on: taker)
        let answered = ContinuousClock.now - started
        try await page
        #expect(answered >= .milliseconds(1550), "the takeover answered before the page committed")
        // Re-checked against the committed row, the expired lease is b's.
        #expect(taken?.owner == "b")
        #expect(taken?.generation == 2)
    }

    /// Issue 20, finding 6: the owner alone made a lease "mine", so two processes with one instance id both
    /// worked the server.
    @Test("two processes of one instance: the second is refused while the first lives, and takes over at once (generation + 1) when its session ends")
    func sameInstanceTwoProcesses() async throws {
        let (database, setup) = try await TestDatabase.migrated()
        try await Self.addServer("live-mt5", on: setup)
        let first = LeaseHolder.test("prod-1 first", instance: "prod-1"), second = LeaseHolder.test("prod-1 second", instance: "prod-1")
        let firstSession = try await database.connect(), secondSession = try await database.connect()
        try await first.markAlive(on: firstSession)
        try await second.markAlive(on: secondSession)

        let lease = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: first, ttl: .seconds(60), on: firstSession))
        #expect(lease.isHeld(by: first) && !lease.isHeld(by: second))
        switch try await ServerLease.take(serverID: "live-mt5", holder: second, ttl: .seconds(60), on: secondSession) {
        case .held: Issue.record("a second live process of the instance took the lease")
        case .heldByAnother(let other): #expect(other.holderDescription == "prod-1 (host test-host, pid 4242)")
        }
        #expect(try await ServerLease.renew(lease, ttl: .seconds(60), on: firstSession).generation == 1)

        // The first process dies: its session ends, and its advisory lock with it. Long before the 60 s lease
        // expires, the instance's other process takes the lease over as a new tenure.
        await firstSession.close()
        var taken: ServerLease?
        let deadline = ContinuousClock.now + .seconds(10)
        while taken == nil, ContinuousClock.now < deadline {
            taken = try await ServerLease.acquire(serverID: "live-mt5", holder: second, ttl: .seconds(60), on: secondSession)
            if taken == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let takenOver = try #require(taken, "the lease of a dead process of the instance was not taken over")
        #expect(takenOver.generation == 2)
        #expect(takenOver.isHeld(by: second))
        await #expect(throws: StoreRefusal.self) { try await ServerLease.renew(lease, ttl: .seconds(60), on: setup) }
    }

    @Test("a live lease of another instance whose process is gone still waits for its expiry")
    func otherInstanceWaitsForExpiry() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        try await Self.addServer("live-mt5", on: connection)
        // Never marked alive: as if its process had died.
        _ = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("dead"), ttl: .seconds(60), on: connection))
        #expect(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("other"), ttl: .seconds(60), on: connection) == nil)
    }

    @Test("a lease written before migration 0012 (no token) is taken back at once by its own instance only")
    func leaseWithoutToken() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        try await Self.addServer("live-mt5", on: connection)
        _ = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("old-1", instance: "prod-1"), ttl: .seconds(60), on: connection))
        try await connection.query("UPDATE server_leases SET token = NULL, holder_host = NULL, holder_pid = NULL")
        #expect(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("prod-2"), ttl: .seconds(60), on: connection) == nil)
        let back = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("new-1", instance: "prod-1"), ttl: .seconds(60), on: connection))
        #expect(back.generation == 2)
    }

    @Test("one session per instance id holds the instance lock; a second is told who runs it, and takes it once that session ends")
    func instanceLock() async throws {
        let (database, _) = try await TestDatabase.migrated()
        let first = LeaseHolder(instanceID: "prod-1", token: 1, host: "mt-sync-a", pid: 101)
        let second = LeaseHolder(instanceID: "prod-1", token: 2, host: "mt-sync-b", pid: 202)
        let a = try await database.connect(), b = try await database.connect()
        let started = Date(timeIntervalSince1970: 1_780_000_000)
        #expect(try await InstanceLock.take(first, startedAt: started, on: a) == .taken)
        #expect(try await InstanceLock.take(first, startedAt: started, on: a) == .taken, "taking it again in its own session is harmless")
        #expect(try await InstanceLock.isHeld(by: first, on: a))
        guard case .running(let running?) = try await InstanceLock.take(second, startedAt: Date(), on: b) else {
            Issue.record("the second session took a held instance lock")
            return
        }
        #expect(running.host == "mt-sync-a" && running.pid == 101 && running.alive)
        #expect(running.startedAt == started)
        // Another instance id is another lock.
        #expect(try await InstanceLock.take(LeaseHolder(instanceID: "prod-2", token: 3, host: "h", pid: 3), startedAt: Date(), on: b) == .taken)

        await a.close()
        var outcome = InstanceLock.Outcome.running(nil)
        let deadline = ContinuousClock.now + .seconds(10)
        while outcome != .taken, ContinuousClock.now < deadline {
            outcome = try await InstanceLock.take(second, startedAt: Date(), on: b)
            if outcome != .taken { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(outcome == .taken)
        #expect(try await InstanceLock.running(instanceID: "prod-1", on: b)?.pid == 202)
        // The first process, reconnected, no longer holds it.
        #expect(try await InstanceLock.isHeld(by: first, on: a) == false)
    }

    @Test("an unknown server and bad arguments are refused with typed errors")
    func refusals() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        do {
            _ = try await ServerLease.acquire(serverID: "nope", holder: .test("a"), ttl: .seconds(1), on: connection)
            Issue.record("acquired a lease for an unknown server")
        } catch let error as StoreRefusal {
            #expect(error.code == .unknownServer)
        }
        try await Self.addServer("live-mt5", on: connection)
        for (owner, ttl) in [("", Duration.seconds(1)), ("a", .zero), ("a", .microseconds(10))] {
            do {
                _ = try await ServerLease.acquire(serverID: "live-mt5", holder: .test(owner), ttl: ttl, on: connection)
                Issue.record("accepted owner \(owner) ttl \(ttl)")
            } catch let error as StoreRefusal {
                #expect(error.code == .invalidArgument)
            }
        }
    }
}
