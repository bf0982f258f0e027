import Foundation
import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import MTSyncTestSupport
import Testing

@Suite("CSV drop server → PostgreSQL, the real store path")
struct DropServerSyncTests {
    @Test("a drop file of many pages (one transaction) stores every deal once, equal to the simulator's ground truth")
    func filesLargerThanAPage() async throws {
        let root = FileManager.default.temporaryDirectory.appending(path: "mtsync-dropsync-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let dataset = SimulatedDataset(.init(seed: 5, serverID: "sim-mt5", days: 2, dealsPerDay: 300, logins: 12))
        try DropFolderWriter(root: root.path).publish(dataset)
        let (_, connection) = try await TestDatabase.migrated()
        let settings = ServerSettings(server: try ServerID("sim-mt5"), platform: .mt5, zone: ServerTimeZone("ny-close")!)
        try await FactStore.register(serverID: settings.server, platform: .mt5, zone: "ny-close", on: connection)
        // Pages of 64 records: each file of ~300 deals is several pages inside the file's one transaction.
        let sync = DropServerSync(
            intake: DropFolderIntake(folder: try DropFolder(root: root.path, serverID: "sim-mt5"), connection: connection, batchSize: 64),
            batcher: RecordBatcher(normalizer: Normalizer(settings: settings)))
        let report = try await sync.pull()

        let expected = dataset.groundTruth().values.reduce(0) { $0 + $1.deals }
        #expect(report.records == expected + dataset.accounts.count, "the deals and the accounts file")
        for table in ["trading_facts", "fact_identities", "outbox", "source_records"] {
            let count = try await connection.query("SELECT count(*) FROM \(identifier: table)")[0].decode(Int.self, 0)
            #expect(count == expected, "\(table)")
        }
        let rows = try await connection.query("""
            SELECT login, count(*), (sum(lots) * 100000000)::bigint, (sum(net) * 100)::bigint FROM trading_facts GROUP BY login
            """)
        var stored: [UInt64: SimulatedDataset.LoginTruth] = [:]
        for row in rows {
            stored[UInt64(try row.decode(Int64.self, 0))] = SimulatedDataset.LoginTruth(
                deals: try row.decode(Int.self, 1), volumeExt: UInt64(try row.decode(Int64.self, 2)), netCents: try row.decode(Int64.self, 3))
        }
        #expect(stored == dataset.groundTruth())
    }
}
