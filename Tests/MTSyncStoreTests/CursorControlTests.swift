import Foundation
import MTSyncCore
import MTSyncStore
import MTSyncTestSupport
import Testing

@Suite("Operator cursor control")
struct CursorControlTests {
    static func setUp() async throws -> (TestDatabase, PostgresConnection) {
        let (database, connection) = try await TestDatabase.migrated()
        try await connection.query("INSERT INTO servers (server_id, platform, time_zone) VALUES ('live-mt5', 'mt5', 'ny-close'), ('live-mt4', 'mt4', '+02:00')")
        return (database, connection)
    }

    static let jan1 = CursorPosition(serverTimeMilliseconds: 1_735_689_600_000, ticket: 0)

    @Test("set creates a missing cursor, then moves it forward and back; each change is audited with who, why and direction")
    func setAndAudit() async throws {
        let (_, connection) = try await Self.setUp()
        #expect(try await CursorControl.cursors(serverID: "live-mt5", on: connection).isEmpty)

        let created = try await CursorControl.set(serverID: "live-mt5", stream: .deals, position: Self.jan1, by: "alice@ops", reason: "start from 2025", on: connection)
        #expect(created.action == .set)
        #expect(created.oldPosition == nil)
        #expect(created.newPosition == Self.jan1)
        #expect(!created.movedBack)

        let later = CursorPosition(serverTimeMilliseconds: Self.jan1.serverTimeMilliseconds + 86_400_000, ticket: 9_007_199_254_740_993)
        let forward = try await CursorControl.set(serverID: "live-mt5", stream: .deals, position: later, by: "alice@ops", reason: "skip a day", on: connection)
        #expect(forward.oldPosition == Self.jan1)
        #expect(!forward.movedBack)

        let back = try await CursorControl.set(serverID: "live-mt5", stream: .deals, position: Self.jan1, by: "bob@ops", reason: "re-sync 1 Jan: dealer edits", on: connection)
        #expect(back.oldPosition == later)
        #expect(back.movedBack)

        let cursors = try await CursorControl.cursors(serverID: "live-mt5", on: connection)
        #expect(cursors.map(\.stream) == [.deals])
        #expect(cursors.first?.position == Self.jan1)

        let history = try await CursorControl.history(serverID: "live-mt5", on: connection)
        #expect(history.map(\.reason) == ["re-sync 1 Jan: dealer edits", "skip a day", "start from 2025"])
        #expect(history.map(\.changedBy) == ["bob@ops", "alice@ops", "alice@ops"])
        #expect(history.map(\.movedBack) == [true, false, false])
        #expect(history.first == back)
        #expect(try await CursorControl.history(serverID: "live-mt4", on: connection).isEmpty)
    }

    @Test("reset moves the cursor to the start and forgets the changes sequence, keeping the old values in the audit")
    func reset() async throws {
        let (_, connection) = try await Self.setUp()
        try await connection.query("""
            INSERT INTO sync_cursors (server_id, stream, position_server_msc, position_ticket, change_sequence, records_stored, last_success_at, last_error_at, last_error)
            VALUES ('live-mt4', 'changes', 1735689600123, 77, 4242, 10, now(), now(), 'bridge timed out')
            """)
        let before = try #require(try await CursorControl.cursors(serverID: "live-mt4", on: connection).first)
        #expect(before.changeSequence == 4242)
        #expect(before.recordsStored == 10)
        #expect(before.lastError == "bridge timed out")
        #expect(before.lastSuccessAt != nil)

        let entry = try await CursorControl.reset(serverID: "live-mt4", stream: .changes, by: "alice@ops", reason: "bridge reinstalled", on: connection)
        #expect(entry.action == .reset)
        #expect(entry.oldPosition == CursorPosition(serverTimeMilliseconds: 1_735_689_600_123, ticket: 77))
        #expect(entry.oldChangeSequence == 4242)
        #expect(entry.newPosition == .start)
        #expect(entry.movedBack)
        let after = try #require(try await CursorControl.cursors(serverID: "live-mt4", on: connection).first)
        #expect(after.position == .start)
        #expect(after.changeSequence == nil)
        #expect(after.lastError == "bridge timed out")
    }

    @Test("an operator change fences the server's lease holder: its in-flight page is refused")
    func changeFencesTheHolder() async throws {
        let (_, connection) = try await Self.setUp()
        let lease = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("instance-a"), ttl: .seconds(60), on: connection))
        let entry = try await CursorControl.set(serverID: "live-mt5", stream: .deals, position: Self.jan1, by: "alice@ops", reason: "re-sync", on: connection)
        #expect(entry.fencedOwner == "instance-a")
        await #expect(throws: StoreRefusal.self) {
            try await connection.transaction { connection in
                try ServerLease.assertHeld(serverID: "live-mt5", owner: "instance-a", generation: lease.generation, on: connection)
            }
        }
        await #expect(throws: StoreRefusal.self) { try await ServerLease.renew(lease, ttl: .seconds(60), on: connection) }
        // The holder asks again and carries on with the new generation (after re-reading its cursor).
        let again = try #require(try await ServerLease.acquire(serverID: "live-mt5", holder: .test("instance-a"), ttl: .seconds(60), on: connection))
        #expect(again.generation == lease.generation + 1)
        try await connection.transaction { connection in
            try ServerLease.assertHeld(serverID: "live-mt5", owner: "instance-a", generation: again.generation, on: connection)
        }
    }

    @Test("unknown servers, streams of the other platform and missing reasons are refused, and nothing changes")
    func refusals() async throws {
        let (_, connection) = try await Self.setUp()
        func code(_ body: () async throws -> Void) async -> StoreRefusal.Code? {
            do {
                try await body()
                return nil
            } catch let error as StoreRefusal {
                return error.code
            } catch {
                Issue.record("unexpected \(error)")
                return nil
            }
        }
        #expect(await code { _ = try await CursorControl.cursors(serverID: "nope", on: connection) } == .unknownServer)
        #expect(await code { _ = try await CursorControl.history(serverID: "nope", on: connection) } == .unknownServer)
        #expect(await code { try await CursorControl.set(serverID: "nope", stream: .deals, position: Self.jan1, by: "a", reason: "r", on: connection) } == .unknownServer)
        #expect(await code { try await CursorControl.set(serverID: "live-mt5", stream: .trades, position: Self.jan1, by: "a", reason: "r", on: connection) } == .unknownStream)
        #expect(await code { try await CursorControl.reset(serverID: "live-mt4", stream: .deals, by: "a", reason: "r", on: connection) } == .unknownStream)
        #expect(await code { try await CursorControl.set(serverID: "live-mt5", stream: .deals, position: Self.jan1, by: "a", reason: "  ", on: connection) } == .invalidArgument)
        #expect(await code { try await CursorControl.set(serverID: "live-mt5", stream: .deals, position: Self.jan1, by: "", reason: "r", on: connection) } == .invalidArgument)
        #expect(await code {
            try await CursorControl.set(serverID: "live-mt5", stream: .deals, position: CursorPosition(serverTimeMilliseconds: -1, ticket: 0), by: "a", reason: "r", on: connection)
        } == .invalidArgument)
        #expect(try await CursorControl.cursors(serverID: "live-mt5", on: connection).isEmpty)
        #expect(try await connection.query("SELECT count(*) FROM cursor_audit")[0].decode(Int.self, 0) == 0)
    }
}
