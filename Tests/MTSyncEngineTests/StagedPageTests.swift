import Foundation
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import MTSyncTestSupport
import Testing

/// Issue 23: a page is decided, hashed and rendered as COPY text while the page before it is stored
/// (`FactStore.stagedPage`), from what that page's transaction read. Its own transaction reads the accounts and
/// the partition window again and decides by them: a plan made before is used only when they agree.
@Suite("A page planned before its transaction is stored as its transaction's own reads decide")
struct StagedPageTests {
    static let server = try! ServerID("live-mt5")
    static let policy = AccountPolicy(filter: AccountFilter(groupMasks: ["!*demo*"]))
    /// 2025-01-01T10:00:00Z.
    static let morning: Int64 = 1_735_725_600_000

    static func batch(_ tickets: ClosedRange<Int>, login: Int = 1001) -> PageBatch {
        let normalizer = Normalizer(settings: ServerSettings(server: server, platform: .mt5, zone: ServerTimeZone("+00:00")!, filter: policy.filter))
        let deals = tickets.map { ticket in
            MT5DealRecord(fields: [
                "Deal": "\(ticket)", "Login": "\(login)", "Action": "0", "Entry": "1", "TimeMsc": "\(morning + Int64(ticket % 1000) * 60_000)",
                "Symbol": "EURUSD", "VolumeExt": "100000000", "Price": "1.1", "Profit": "10",
            ])
        }
        return RecordBatcher(normalizer: normalizer).batch(deals: deals, cursor: nil)
    }

    static func account(_ group: String, from milliseconds: Int64? = nil) -> AccountRecord {
        AccountRecord(login: 1001, group: group, currency: "USD", leverage: 100, clientID: "C-1", updatedMilliseconds: milliseconds, updatedUTCMilliseconds: milliseconds)
    }

    /// A migrated store with the server and its account 1001 (real), and what storing a first page read.
    static func store() async throws -> (TestDatabase, PostgresConnection, PageReadings) {
        let (database, connection) = try await TestDatabase.migrated()
        try await FactStore.register(serverID: server, platform: .mt5, zone: "+00:00", on: connection)
        try await AccountDirectory.storeFromBridge(server: server.rawValue, accounts: [account("real\\A")], changedBy: "test", on: connection)
        _ = try await AccountDecisions.applyNewVersions(server: server.rawValue, policy: policy, on: connection)
        let first = Self.batch(700_001...700_001)
        let (outcome, readings) = try await connection.transaction { connection in try FactStore.store(first, staged: nil, on: connection) }
        #expect(outcome.inserted == 1)
        #expect(readings.logins == [1001] && readings.histories[1001] != nil && readings.window != nil)
        return (database, connection, readings)
    }

    static func count(_ connection: PostgresConnection, _ sql: PostgresQuery) async throws -> Int {
        try await connection.query(sql)[0].decode(Int.self, 0)
    }

    @Test("planned with the accounts its transaction reads: stored exactly as a plan made in the transaction (the same page again changes nothing)")
    func sameReadings() async throws {
        let (_, connection, readings) = try await Self.store()
        let page = Self.batch(700_002...700_010)
        let staged = try #require(FactStore.stagedPage(page, readings: readings))
        let (outcome, _) = try await connection.transaction { connection in try FactStore.store(page, staged: staged, on: connection) }
        #expect(outcome.inserted == 9 && outcome.excluded == 0 && outcome.pending == 0)
        let again = try await connection.transaction { connection in try FactStore.store(page, staged: nil, on: connection) }.outcome
        #expect(again.inserted == 0 && again.updated == 0 && again.unchanged == 9)
        #expect(try await Self.count(connection, "SELECT count(*)::int FROM source_records WHERE outcome = 'stored'") == 10)
        #expect(try await Self.count(connection, "SELECT count(*)::int FROM trading_facts WHERE currency = 'USD' AND excluded_reason IS NULL") == 10)
    }

    @Test("the account became demo between the plan and the transaction: the transaction's reading decides (excluded, not sent)")
    func accountMovedSincePlanned() async throws {
        let (_, connection, readings) = try await Self.store()
        let page = Self.batch(700_002...700_003)
        let staged = try #require(FactStore.stagedPage(page, readings: readings))
        // Demo from before the page's deals (and after the first page's).
        try await AccountDirectory.storeFromBridge(
            server: Self.server.rawValue, accounts: [Self.account("demo\\x", from: Self.morning + 90_000)], changedBy: "test", on: connection)
        let (outcome, after) = try await connection.transaction { connection in try FactStore.store(page, staged: staged, on: connection) }
        #expect(outcome.inserted == 0 && outcome.excluded == 2)
        #expect(after.histories[1001] != readings.histories[1001])
        #expect(try await Self.count(connection, "SELECT count(*)::int FROM outbox WHERE event_kind = 'fact.created'") == 1)
        #expect(try await Self.count(connection, "SELECT count(*)::int FROM trading_facts WHERE excluded_reason = 'group_excluded'") == 2)
    }

    @Test("planned with a window that left its deals out: the transaction's window holds them, so they are stored, not quarantined")
    func windowMovedSincePlanned() async throws {
        let (_, connection, readings) = try await Self.store()
        var stale = readings
        // Partitions ending at 2025-01-01T00:00Z, read at the epoch: the page's deals would be quarantined as past them.
        stale.window = FactPartitions.Window(endMilliseconds: 1_735_689_600_000, nowMilliseconds: 0)
        let page = Self.batch(700_002...700_004)
        let staged = try #require(FactStore.stagedPage(page, readings: stale))
        let (outcome, _) = try await connection.transaction { connection in try FactStore.store(page, staged: staged, on: connection) }
        #expect(outcome.inserted == 3 && outcome.quarantined == 0)
        #expect(try await Self.count(connection, "SELECT count(*)::int FROM quarantine") == 0)
    }

    @Test("a login no transaction has read yet, or no window read: no plan before the transaction (it plans by itself)")
    func notEnoughRead() async throws {
        let (_, connection, readings) = try await Self.store()
        #expect(FactStore.stagedPage(Self.batch(700_002...700_003, login: 2002), readings: readings) == nil)
        var windowless = readings
        windowless.window = nil
        #expect(FactStore.stagedPage(Self.batch(700_002...700_003), readings: windowless) == nil)
        // Held for its unknown account, as without a plan.
        let outcome = try await connection.transaction { connection in
            try FactStore.store(Self.batch(700_002...700_003, login: 2002), staged: nil, on: connection)
        }.outcome
        #expect(outcome.pending == 2 && outcome.inserted == 0)
    }
}
