import MTSyncEngine
import MTSyncApp
import MTSyncStore
import MTSyncTestSupport
import Testing

@Suite("Readiness: the database answers, migrations are current, every lease held or waiting")
struct ReadinessCheckTests {
    @Test("a database without the schema is not ready, and says to run mtsync migrate; migrated it is")
    func migrations() async throws {
        let database = try await TestDatabase.create()
        let connection = try await database.connect()
        let check = ReadinessCheck(connection: connection, migrator: try Migrator.embedded(), leases: nil)
        let before = await check.run()
        #expect(!before.ready)
        #expect(before.checks.first { $0.name == "database" }?.ok == true)
        let migrations = try #require(before.checks.first { $0.name == "migrations" })
        #expect(!migrations.ok)
        #expect(migrations.detail.contains("pending: run mtsync migrate"), "\(migrations.detail)")

        try await Migrator.embedded().migrate(on: connection)
        let after = await check.run()
        #expect(after.ready, "\(after)")
    }

    @Test("leases: starting or failing is not ready; held here or by another live instance is", arguments: [
        ([LeaseBoard.State.held, .waiting], true),
        ([.held, .heldBy("instance-b (host sync-b, pid 3117)")], true),
        ([.held, .starting], false),
        ([.waiting, .failed("the database went away")], false),
    ])
    func leases(states: [LeaseBoard.State], ready: Bool) async throws {
        let (_, connection) = try await TestDatabase.migrated()
        let board = LeaseBoard(servers: ["mt5-live", "mt4-live"])
        for (server, state) in zip(board.servers, states) { board.record(server, state) }
        let report = await ReadinessCheck(connection: connection, migrator: try Migrator.embedded(), leases: board).run()
        #expect(report.ready == ready)
        let leases = try #require(report.checks.first { $0.name == "leases" })
        #expect(leases.detail.hasPrefix("mt5-live: \(states[0]); mt4-live: \(states[1])"))
    }
}
