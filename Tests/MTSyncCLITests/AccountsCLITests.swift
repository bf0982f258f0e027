import Foundation
import MTBridgeSimulator
import MTSyncStore
import MTSyncTestSupport
import Testing

@Suite("mtsync accounts sync and status: the drop's accounts, records held for their account")
struct AccountsCLITests {
    @Test("a drop server's deals wait for their accounts (status shows them held); mtsync accounts sync takes its accounts file and decides them")
    func dropAccountsReleaseHeldRecords() async throws {
        let folder = FileManager.default.temporaryDirectory.appending(path: "mtsync-accountscli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let dataset = SimulatedDataset(.init(seed: 19, serverID: "drop-mt5", days: 1, dealsPerDay: 80, logins: 6))
        let writer = DropFolderWriter(root: folder.appending(path: "drop").path)
        try writer.publish(dataset, accounts: false)
        let database = try await TestDatabase.create()
        #expect(try await CLI.launch(["migrate", "--database-url", database.url]).status == 0)
        let config = folder.appending(path: "mtsync.yaml")
        try Data("""
            database:
              url: \(database.url)
            servers:
              - id: drop-mt5
                platform: mt5
                time_zone: ny-close
                start: 2025-01-01
                drop: { folder: drop }
                rules: { filters: { groups: ["!demo*"] } }
            """.utf8).write(to: config)

        let sync = try await CLI.launch(["sync", "--config", config.path])
        #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
        let deals = dataset.deals(onDay: dataset.configuration.firstDay).count
        let status = try await CLI.launch(["status", "--database-url", database.url, "--json"])
        let servers = try #require((try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["servers"] as? [[String: Any]])
        let pending = try #require(servers.first?["pending"] as? [String: Any])
        #expect(pending["records"] as? Int == deals && pending["account_unknown"] as? Int == deals, "\(pending)")
        let text = try await CLI.launch(["status", "--database-url", database.url])
        #expect(text.stdout.contains("pending     \(deals) record(s) of"), "\(text.stdout)")

        try writer.publishAccounts(dataset, sequence: 2)
        let accounts = try await CLI.launch(["accounts", "sync", "--config", config.path])
        #expect(accounts.status == 0, "\(accounts.stdout)\(accounts.stderr)")
        #expect(accounts.stdout.contains("drop-mt5: drop folder, 1 accounts file(s) taken"), "\(accounts.stdout)")
        #expect(accounts.stdout.contains("held records decided: \(deals), still waiting for their account: 0"), "\(accounts.stdout)")
        let connection = try await database.connect()
        #expect(try await connection.query("SELECT count(*) FROM pending_records")[0].decode(Int.self, 0) == 0)
        let demo = dataset.accounts.filter(\.isDemo).map { Int64($0.login) }
        let excluded = try await connection.query("SELECT count(*) FROM trading_facts WHERE excluded_reason = 'group_excluded'")[0].decode(Int.self, 0)
        #expect(excluded == dataset.deals(onDay: dataset.configuration.firstDay).filter { demo.contains(Int64($0.login!)!) }.count)
        let after = try await CLI.launch(["status", "--database-url", database.url])
        #expect(after.stdout.contains("pending     none") && after.stdout.contains("excluded    \(excluded) group_excluded"), "\(after.stdout)")
    }
}
