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
                async let leaseA = ServerLease.acquire(serverID: server, owner: "instance-a", ttl: .seconds(60), on: a)
                async let leaseB = ServerLease.acquire(serverID: server, owner: "instance-b", ttl: .seconds(60), on: b)
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
        let first = try #require(try await ServerLease.acquire(serverID: "live-mt5", owner: "a", ttl: .seconds(60), on: connection))
        #expect(first.generation == 1)
        #expect(first.remaining > .zero && first.remaining <= .seconds(60))
        #expect(try await ServerLease.acquire(serverID: "live-mt5", owner: "b", ttl: .seconds(60), on: connection) == nil)
        // Asking again as the holder renews the same tenure.
        let again = try #require(try await ServerLease.acquire(serverID: "live-mt5", owner: "a", ttl: .seconds(60), on: connection))
        #expect(again.generation == 1)
        #expect(again.acquiredAt == first.acquiredAt)
        // The last renewal is short: the lease then expires unless renewed again.
        let renewed = try await ServerLease.renew(again, ttl: .seconds(2), on: connection)
        #expect(renewed.generation == 1)

        try await Task.sleep(for: .milliseconds(2_500))
        let taken = try #require(try await ServerLease.acquire(serverID: "live-mt5", owner: "b", ttl: .seconds(60), on: connection))
        #expect(taken.owner == "b")
        #expect(taken.generation == 2)

        // The old holder's renewal fails: it must stop writing.
        await #expect(throws: ServerLeaseError.self) { try await ServerLease.renew(renewed, ttl: .seconds(60), on: connection) }
        do {
            try await ServerLease.renew(renewed, ttl: .seconds(60), on: connection)
        } catch let error as ServerLeaseError {
            #expect(error.code == .lost)
            #expect(error.message.contains("b took it over"))
        }
        // Releasing someone else's lease does nothing.
        #expect(try await ServerLease.release(renewed, on: connection) == false)
        #expect(try await ServerLease.holders(on: connection).map(\.owner) == ["b"])
    }

    @Test("an owner whose own lease expired gets a new tenure, so its old generation is fenced off")
    func ownExpiredLeaseIsANewTenure() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        try await Self.addServer("live-mt5", on: connection)
        let first = try #require(try await ServerLease.acquire(serverID: "live-mt5", owner: "a", ttl: .milliseconds(100), on: connection))
        try await Task.sleep(for: .milliseconds(250))
        await #expect(throws: ServerLeaseError.self) { try await ServerLease.renew(first, ttl: .seconds(60), on: connection) }
        let second = try #require(try await ServerLease.acquire(serverID: "live-mt5", owner: "a", ttl: .seconds(60), on: connection))
        #expect(second.generation == 2)
    }

    @Test("release lets another instance take the server at once")
    func releaseHandsOver() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        try await Self.addServer("live-mt5", on: connection)
        let lease = try #require(try await ServerLease.acquire(serverID: "live-mt5", owner: "a", ttl: .seconds(3600), on: connection))
        #expect(try await ServerLease.release(lease, on: connection))
        #expect(try await ServerLease.release(lease, on: connection) == false)
        let next = try #require(try await ServerLease.acquire(serverID: "live-mt5", owner: "b", ttl: .seconds(3600), on: connection))
        #expect(next.generation == 2)
        await #expect(throws: ServerLeaseError.self) { try await ServerLease.renew(lease, ttl: .seconds(60), on: connection) }
    }

    @Test("assertHeld passes for the current tenure and refuses a stale generation, another owner, an expired or released lease")
    func fencing() async throws {
        let (database, connection) = try await TestDatabase.migrated()
        try await Self.addServer("live-mt5", on: connection)
        try await Self.addServer("idle", on: connection)
        let first = try #require(try await ServerLease.acquire(serverID: "live-mt5", owner: "a", ttl: .seconds(5), on: connection))
        try await connection.transaction { connection in
            try ServerLease.assertHeld(serverID: "live-mt5", owner: "a", generation: first.generation, on: connection)
        }
        try await Task.sleep(for: .milliseconds(5_500))
        // Expired, though nobody took it yet.
        await #expect(throws: ServerLeaseError.self) {
            try await connection.run { connection in try ServerLease.assertHeld(serverID: "live-mt5", owner: "a", generation: 1, on: connection) }
        }
        let second = try #require(try await ServerLease.acquire(serverID: "live-mt5", owner: "b", ttl: .seconds(60), on: connection))
        for (owner, generation) in [("a", first.generation), ("b", first.generation), ("a", second.generation)] {
            await #expect(throws: ServerLeaseError.self, "\(owner) in generation \(generation)") {
                try await connection.transaction { connection in
                    try ServerLease.assertHeld(serverID: "live-mt5", owner: owner, generation: generation, on: connection)
                }
            }
        }
        try await connection.transaction { connection in
            try ServerLease.assertHeld(serverID: "live-mt5", owner: "b", generation: second.generation, on: connection)
        }
        await #expect(throws: ServerLeaseError.self) {
            try await connection.run { connection in try ServerLease.assertHeld(serverID: "idle", owner: "b", generation: 1, on: connection) }
        }

        // A released lease no longer passes either.
        let other = try await database.connect()
        #expect(try await ServerLease.release(second, on: other))
        await #expect(throws: ServerLeaseError.self) {
            try await connection.run { connection in try ServerLease.assertHeld(serverID: "live-mt5", owner: "b", generation: second.generation, on: connection) }
        }
    }

    @Test("a takeover waits for the page transaction that holds the lease row")
    func takeoverWaitsForPage() async throws {
        let (database, connection) = try await TestDatabase.migrated()
        try await Self.addServer("live-mt5", on: connection)
        // A lease long enough that the page below starts inside it even on a loaded 2-core machine (5 s was not).
        let lease = try #require(try await ServerLease.acquire(serverID: "live-mt5", owner: "a", ttl: .seconds(10), on: connection))
        let taker = try await database.connect()
        let started = ContinuousClock.now
        async let page: Void = connection.transaction { connection in
            try ServerLease.assertHeld(serverID: "live-mt5", owner: "a", generation: lease.generation, on: connection)
            // A slow page, outliving the lease: pg_sleep keeps the row lock, as storing a big page would.
            try connection.query("SELECT pg_sleep(1.6)")
        }
        try await Task.sleep(for: .milliseconds(10_500))
        // The lease has expired by now, but the page holds the row FOR SHARE: the takeover blocks until it commits.
        let taken = try await ServerLease.acquire(serverID: "live-mt5", owner: "b", ttl: .seconds(60), on: taker)
        let answered = ContinuousClock.now - started
        try await page
        #expect(answered >= .milliseconds(1550), "the takeover answered before the page committed")
        // Re-checked against the committed row, the expired lease is b's.
        #expect(taken?.owner == "b")
        #expect(taken?.generation == 2)
    }

    @Test("an unknown server and bad arguments are refused with typed errors")
    func refusals() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        do {
            _ = try await ServerLease.acquire(serverID: "nope", owner: "a", ttl: .seconds(1), on: connection)
            Issue.record("acquired a lease for an unknown server")
        } catch let error as ServerLeaseError {
            #expect(error.code == .unknownServer)
        }
        try await Self.addServer("live-mt5", on: connection)
        for (owner, ttl) in [("", Duration.seconds(1)), ("a", .zero), ("a", .microseconds(10))] {
            do {
                _ = try await ServerLease.acquire(serverID: "live-mt5", owner: owner, ttl: ttl, on: connection)
                Issue.record("accepted owner \(owner) ttl \(ttl)")
            } catch let error as ServerLeaseError {
                #expect(error.code == .invalidArgument)
            }
        }
    }
}
