import Foundation
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import MTSyncTestSupport
import Testing

/// Migration 0016: a page checks its server once instead of a foreign key checking every row it writes.
@Suite("A page of an unregistered server is refused whole, as the per-row foreign keys refused it")
struct PageServerCheckTests {
    @Test("a page for a server with no row stores nothing and says which server to register; registered, the same page stores")
    func unknownServerRefused() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        let server = try ServerID("unregistered-mt5")
        let batcher = RecordBatcher(normalizer: Normalizer(settings: ServerSettings(
            server: server, platform: .mt5, zone: ServerTimeZone("+00:00")!, filter: AccountFilter(unknownGroup: .include))))
        let now = try await connection.query("SELECT (extract(epoch FROM now()) * 1000)::bigint")[0].decode(Int64.self, 0)
        let deal = MT5DealRecord(fields: [
            "Deal": "1", "Login": "1001", "Action": "0", "Entry": "0", "TimeMsc": "\(now)", "Symbol": "EURUSD", "VolumeExt": "100000000", "Price": "1.1",
        ])
        let page = batcher.batch(deals: [deal], cursor: CursorPosition(serverTimeMilliseconds: now, ticket: 1))

        let refusal = await #expect(throws: StoreRefusal.self) {
            try await connection.transaction { connection in try FactStore.store(page, on: connection) }
        }
        #expect(refusal?.code == .unknownServer && refusal?.serverID == "unregistered-mt5")
        for table in ["fact_identities", "trading_facts", "source_records", "outbox", "sync_cursors"] {
            #expect(try await connection.query(PostgresQuery(sql: "SELECT count(*)::int FROM \(table)"))[0].decode(Int.self, 0) == 0, "\(table)")
        }

        try await FactStore.register(serverID: server, platform: .mt5, zone: "+00:00", on: connection)
        let outcome = try await connection.transaction { connection in try FactStore.store(page, on: connection) }
        #expect(outcome.inserted == 1)
    }
}
