import Foundation
import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncEngine
import MTSyncIngest
import MTSyncStore
import MTSyncTestSupport
import Testing

/// The CSV drop's new files and the account store's edges, against the real store: edits and deletions by a
/// `changes` file (issue 19 item 7), daily records, bad account and daily rows quarantined, a closed volume the
/// bridge does not send, and a fact retracted when an account turns out demo after it was sent.
@Suite("Drop changes and daily files, bad accounts, reversals without closed volume, retractions")
struct DropDecisionsTests {
    static func drop(_ dataset: SimulatedDataset, filter: AccountFilter = .none) async throws -> (URL, PostgresConnection, DropServerSync) {
        let root = FileManager.default.temporaryDirectory.appending(path: "mtsync-dropdecisions-\(UUID().uuidString)")
        let (_, connection) = try await TestDatabase.migrated()
        let server = try ServerID(dataset.configuration.serverID)
        try await FactStore.register(serverID: server, platform: dataset.configuration.platform, zone: "ny-close", on: connection)
        try FileManager.default.createDirectory(at: root.appending(path: "\(server)/incoming"), withIntermediateDirectories: true)
        let sync = DropServerSync(
            intake: DropFolderIntake(folder: try DropFolder(root: root.path, serverID: server.rawValue), connection: connection, batchSize: 64),
            batcher: RecordBatcher(normalizer: Normalizer(settings: ServerSettings(server: server, platform: dataset.configuration.platform, zone: ServerTimeZone("ny-close")!, filter: filter))))
        return (root, connection, sync)
    }

    static func count(_ connection: PostgresConnection, _ sql: PostgresQuery) async throws -> Int {
        try await connection.query(sql)[0].decode(Int.self, 0)
    }

    @Test("a drop's changes file edits and deletes like the TCP changes stream, each change once: a file published again is skipped by its sequence")
    func changesFile() async throws {
        let dataset = SimulatedDataset(.init(seed: 12, serverID: "drop-mt5", days: 2, dealsPerDay: 150, logins: 10))
        let (root, connection, sync) = try await Self.drop(dataset)
        defer { try? FileManager.default.removeItem(at: root) }
        let writer = DropFolderWriter(root: root.path)
        try writer.publish(dataset, daily: true)
        _ = try await sync.pull()
        #expect(try await Self.count(connection, "SELECT count(*) FROM daily_records") == 10 * 2, "every account's every day")
        let facts = try await Self.count(connection, "SELECT count(*) FROM trading_facts")

        let changes = dataset.changes()
        let updates = changes.filter { $0.op == "update" }.count, deletes = changes.filter { $0.op == "delete" }.count
        try #require(updates > 0 && deletes > 0)
        try writer.publishChanges(dataset, sequence: 2)
        let applied = try await sync.pull()
        #expect(applied.outcome.updated == updates && applied.outcome.deleted == deletes, "\(applied.outcome)")
        #expect(try await Self.count(connection, "SELECT count(*) FROM trading_facts WHERE deleted") == deletes)
        #expect(try await Self.count(connection, "SELECT count(*) FROM fact_identities WHERE revision = 2") == updates + deletes)
        #expect(try await Self.count(connection, "SELECT change_sequence::int FROM sync_cursors WHERE stream = 'changes'") == changes.count)
        let events = try await Self.count(connection, "SELECT count(*) FROM outbox")
        #expect(events == facts + updates + deletes)

        // The same changes under another name: every row is at or below the sequence applied, so nothing happens.
        try writer.publishChanges(dataset, sequence: 3)
        let again = try await sync.pull()
        #expect(again.outcome.updated == 0 && again.outcome.deleted == 0 && again.pages == 1)
        #expect(try await Self.count(connection, "SELECT count(*) FROM outbox") == events)
    }

    @Test("bad account and daily rows of a drop are quarantined with the reason and their bytes; the rest of each file is stored")
    func badAccountAndDailyRows() async throws {
        let dataset = SimulatedDataset(.init(seed: 13, serverID: "drop-mt5", days: 1, dealsPerDay: 50, logins: 4))
        let (root, connection, sync) = try await Self.drop(dataset)
        defer { try? FileManager.default.removeItem(at: root) }
        let writer = DropFolderWriter(root: root.path)
        var accounts = dataset.accountRecords()
        var bad = accounts[0]
        bad.login = "900001"
        bad.currency = "US Dollar"
        var badLeverage = accounts[1]
        badLeverage.login = "900002"
        badLeverage.leverage = "0"
        var badMoney = accounts[2]
        badMoney.login = "900003"
        badMoney.balance = "1,5"
        accounts += [bad, badLeverage, badMoney]
        let at = dataset.range.lowerBound
        _ = try writer.publish(DropCSVWriter.file(accounts), stream: .accounts, from: at, to: at, sequence: 1, server: "drop-mt5")
        var daily = dataset.dailyRecords()
        var unknown = daily[0]
        unknown.login = "777777"
        var notMoney = daily[1]
        notMoney.equity = "lots"
        var noDay = daily[2]
        noDay.day = "2025-02-30"
        daily = [daily[0], unknown, notMoney, noDay, daily[3]]
        _ = try writer.publish(DropCSVWriter.file(daily), stream: .daily, from: at, to: at + 86_400_000, sequence: 1, server: "drop-mt5")
        let report = try await sync.pull()
        #expect(report.outcome.quarantined == 6, "\(report.outcome)")
        let entries = try await QuarantineEntry.open(serverID: "drop-mt5", on: connection)
        let reasons = Set(entries.map(\.reasonCode))
        #expect(reasons == ["notCurrency", "outOfRange", "notDecimal", "unknownLogin", "notDate"], "\(entries.map { "\($0.reasonCode): \($0.reason)" })")
        #expect(entries.allSatisfy { $0.source.hasPrefix("csv:") && !$0.raw.isEmpty })
        #expect(try await Self.count(connection, "SELECT count(*) FROM accounts") == 4, "the good accounts are stored")
        #expect(try await Self.count(connection, "SELECT count(*) FROM daily_records") == 2, "the good daily records are stored")
    }

    @Test("an MT5 reversal the bridge sends without VolumeClosedExt is stored and sent, but its day of the daily feed waits with the reason; out deals without it count their whole volume")
    func reversalWithoutClosedVolume() async throws {
        var faults = SimulatorFaults()
        faults.omittedFields = ["VolumeClosedExt", "VolumeClosed"]
        let fixture = try await SyncFixture(days: 1, dealsPerDay: 300, faults: faults)
        let reversals = fixture.dataset.deals(onDay: fixture.dataset.configuration.firstDay).filter { $0.entry == "2" }
        try #require(!reversals.isEmpty)
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try fixture.sync(port: port)
            try await sync.register()
            _ = try await sync.pull()
            #expect(try await fixture.count("SELECT count(*) FROM trading_facts WHERE closed_lots IS NOT NULL") == 0)
            #expect(try await fixture.count("SELECT count(*) FROM outbox o JOIN trading_facts t USING (fact_id) WHERE t.entry = 'inout'") == reversals.count, "sent like any deal")
            let builder = DailyFeedBuilder(
                settings: DailyFeedSettings(rules: DailyFeedRules(centGroups: ["*cent*"], rates: ["EUR": ExactDecimal(parsing: "1.1")!]), envelope: DailyFeedEnvelope(triggerID: "t", source: "s"), day: .nyClose),
                connection: fixture.connection)
            let report = try await builder.build()
            let customers = Set(reversals.compactMap { deal in fixture.dataset.account(login: UInt64(deal.login!)!)?.clientID })
            #expect(report.customerDaysHeld == customers.count && report.rowsQueued > 0, "\(report)")
            let held = try await fixture.connection.query("SELECT held_reason FROM feed_customer_days_dirty WHERE held_reason IS NOT NULL").map { try $0.decode(String.self, 0) }
            #expect(held.allSatisfy { $0.contains("VolumeClosedExt") && $0.contains("inout") })
        }
    }

    @Test("an account learned to be demo from before deals that were sent: those facts are retracted (fact.deleted, the reason in excluded), later ones never sent; back to real, sent again")
    func retraction() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        let server = try ServerID("live-mt5")
        try await FactStore.register(serverID: server, platform: .mt5, zone: "+00:00", on: connection)
        let policy = AccountPolicy(filter: AccountFilter(groupMasks: ["!*demo*"]))
        let normalizer = Normalizer(settings: ServerSettings(server: server, platform: .mt5, zone: ServerTimeZone("+00:00")!, filter: policy.filter))
        try await AccountDirectory.storeFromBridge(
            server: "live-mt5", accounts: [AccountRecord(login: 1001, group: "real\\A", currency: "USD", leverage: 100, clientID: "C-1", updatedMilliseconds: nil)],
            changedBy: "test", on: connection)
        _ = try await AccountDecisions.applyNewVersions(server: "live-mt5", policy: policy, on: connection)
        let deals = (1...4).map { index in
            MT5DealRecord(fields: [
                "Deal": "\(700_000 + index)", "Login": "1001", "Action": "0", "Entry": "1", "TimeMsc": "\(1_735_725_600_000 + Int64(index) * 3_600_000)",
                "Symbol": "EURUSD", "VolumeExt": "100000000", "Price": "1.1", "Profit": "10",
            ])
        }
        let batcher = RecordBatcher(normalizer: normalizer)
        _ = try await connection.transaction { connection in try FactStore.store(batcher.batch(deals: deals, cursor: nil), on: connection) }
        #expect(try await Self.count(connection, "SELECT count(*) FROM outbox WHERE event_kind = 'fact.created'") == 4)

        // The account was demo from between the second and the third deal.
        let moved = 1_735_725_600_000 + 2 * 3_600_000 + 1
        try await AccountDirectory.storeFromBridge(
            server: "live-mt5", accounts: [AccountRecord(login: 1001, group: "demo\\x", currency: "USD", leverage: 100, clientID: "C-1", updatedMilliseconds: Int64(moved), updatedUTCMilliseconds: Int64(moved))],
            changedBy: "test", on: connection)
        let applied = try await AccountDecisions.applyNewVersions(server: "live-mt5", policy: policy, on: connection)
        #expect(applied.excluded == 2 && applied.included == 0)
        let retractions = try await connection.query("""
            SELECT idempotency_key, payload->>'excluded', payload->>'deleted' FROM outbox WHERE event_kind = 'fact.deleted' ORDER BY idempotency_key
            """).map { [try $0.decode(String.self, 0), try $0.decode(String.self, 1), try $0.decode(String.self, 2)] }
        #expect(retractions == [["live-mt5:700003:2", "group_excluded", "true"], ["live-mt5:700004:2", "group_excluded", "true"]])
        // A deal read again is decided with the version of its time: unchanged, nothing new.
        let again = try await connection.transaction { connection in try FactStore.store(batcher.batch(deals: deals, cursor: nil), on: connection) }
        #expect(again.inserted == 0 && again.updated == 0 && again.excluded == 0)

        // Real again from before the third deal: they are sent again, as updates.
        try await AccountDirectory.storeFromBridge(
            server: "live-mt5", accounts: [AccountRecord(login: 1001, group: "real\\B", currency: "USD", leverage: 100, clientID: "C-1", updatedMilliseconds: Int64(moved + 1), updatedUTCMilliseconds: Int64(moved + 1))],
            changedBy: "test", on: connection)
        let back = try await AccountDecisions.applyNewVersions(server: "live-mt5", policy: policy, on: connection)
        #expect(back.included == 2)
        #expect(try await Self.count(connection, "SELECT count(*) FROM outbox WHERE event_kind = 'fact.updated' AND idempotency_key LIKE '%:3'") == 2)
    }
}
