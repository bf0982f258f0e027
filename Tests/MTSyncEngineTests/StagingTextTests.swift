import Foundation
import MTBridgeSimulator
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import Testing

/// `FactStore.stagingText` is what `mtsync-bench ceiling` loads to measure the database alone: it must stage what
/// `store` would (issue 19 moved the account's decision into the store; the ceiling then staged no fact at all).
@Suite("The benchmark's staging text decides a page's facts as the store does")
struct StagingTextTests {
    @Test("one fact row per deal whose account is known; a deal of an unknown account is held, not staged")
    func decidedLikeTheStore() throws {
        let dataset = SimulatedDataset(.init(seed: 5, serverID: "bench-mt5", days: 1, dealsPerDay: 60, logins: 6, platform: .mt5))
        let settings = ServerSettings(server: try ServerID("bench-mt5"), platform: .mt5, zone: ServerTimeZone("ny-close")!)
        let deals = dataset.deals(onDay: dataset.configuration.firstDay)
        let batch = RecordBatcher(normalizer: Normalizer(settings: settings)).batch(deals: deals, cursor: nil)
        var histories: [UInt64: AccountHistory] = [:]
        for account in dataset.accounts { histories[account.login] = AccountHistory(always: AccountState(group: account.group, currency: account.currency)) }
        let forgotten = try #require(dataset.accounts.first).login
        let expected = deals.filter { UInt64($0.login ?? "") != forgotten }.count
        histories[forgotten] = nil

        let text = try FactStore.stagingText(of: batch, histories: histories)
        #expect(text.facts.count { $0 == UInt8(ascii: "\n") } == expected)
        #expect(text.sources.count { $0 == UInt8(ascii: "\n") } == deals.count)
    }
}
