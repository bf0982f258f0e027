import Foundation
import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncTestSupport
import Testing

/// The simulator's side of the loyalty feed: accounts with the variety a broker has (demo, cent, EUR, unmapped,
/// one customer on two servers) and a ground truth per login and server day that tests of the feed compare with.
@Suite("Simulator accounts and daily ground truth for the loyalty feed")
struct SimulatorDailyTruthTests {
    typealias Harness = ClientSimulatorTests
    typealias Key = SimulatedDataset.DailyTruthKey
    typealias Truth = SimulatedDataset.DailyTruth

    /// 26 logins: two unmapped (indices 12, 25), two cent (10, 21), five demo, EUR ones.
    static func dataset(_ platform: Platform) -> SimulatedDataset {
        SimulatedDataset(.init(seed: 3, serverID: "sim-\(platform.rawValue)", days: 4, dealsPerDay: 300, logins: 26, platform: platform))
    }

    // MARK: Accounts

    struct AccountCase: Sendable, CustomTestStringConvertible {
        var index: Int
        var group: String
        var currency: String
        var clientID: String?
        var testDescription: String { "index \(index): \(group) \(currency) \(clientID ?? "unmapped")" }
    }

    @Test("accounts follow fixed rules of the login's index", arguments: [
        AccountCase(index: 0, group: "real\\group0", currency: "USD", clientID: "C-100001"),
        AccountCase(index: 4, group: "demo\\forex", currency: "USD", clientID: "C-100005"),
        AccountCase(index: 6, group: "real\\group0", currency: "EUR", clientID: "C-100007"),
        AccountCase(index: 10, group: "real\\cent", currency: "USC", clientID: "C-100011"),
        AccountCase(index: 12, group: "real\\group0", currency: "USD", clientID: nil),
        AccountCase(index: 25, group: "real\\group1", currency: "USD", clientID: nil),
        AccountCase(index: 27, group: "real\\group0", currency: "EUR", clientID: "C-100028"),
        // Demo wins over cent; cent's USC wins over EUR.
        AccountCase(index: 54, group: "demo\\forex", currency: "USD", clientID: "C-100055"),
        AccountCase(index: 76, group: "real\\cent", currency: "USC", clientID: "C-100077"),
    ])
    func accountRules(_ expected: AccountCase) throws {
        let dataset = SimulatedDataset(.init(logins: 100))
        let account = try #require(dataset.account(login: SimulatedDataset.firstLogin + UInt64(expected.index)))
        #expect(account == SimulatedAccount(login: 100_001 + UInt64(expected.index), group: expected.group, currency: expected.currency, clientID: expected.clientID))
        #expect(dataset.accounts[expected.index] == account)
        #expect(account.isDemo == expected.group.hasPrefix("demo"))
    }

    @Test("the default dataset has every kind of account; MT4 and MT5 hold the same accounts, so a customer has a login on each")
    func variety() {
        let accounts = SimulatedDataset(.init()).accounts
        #expect(accounts.map(\.login) == Array(100_001...100_020), "ascending from firstLogin")
        #expect(accounts.filter(\.isDemo).count == 4)
        #expect(accounts.filter { $0.group == "real\\cent" }.map(\.currency) == ["USC"])
        #expect(accounts.contains { $0.currency == "EUR" })
        #expect(accounts.filter { $0.clientID == nil }.map(\.login) == [100_013])
        #expect(SimulatedDataset(.init()).account(login: 100_021) == nil && SimulatedDataset(.init()).account(login: 100_000) == nil)

        let mt5 = Self.dataset(.mt5), mt4 = Self.dataset(.mt4)
        #expect(mt5.accounts == mt4.accounts)
        #expect(mt5.account(login: 100_001)?.clientID == "C-100001" && mt4.account(login: 100_001)?.clientID == "C-100001")
        // And the customer trades on both.
        #expect(mt5.dailyTruth().keys.contains { $0.login == 100_001 } && mt4.dailyTruth().keys.contains { $0.login == 100_001 })
    }

    @Test("accounts over TCP carry the dataset's group, currency and client_id; an unmapped account has no client_id", arguments: [Platform.mt5, .mt4])
    func accountsOverTCP(platform: Platform) async throws {
        let dataset = Self.dataset(platform)
        let accounts = try await SimulatorHarness.run(BridgeSimulator(dataset: dataset, key: Harness.key)) { port in
            try await BridgeConnection.withConnection(to: Harness.endpoint(port)) { connection in
                var all: [AccountRecord] = []
                var after: UInt64?
                while true {
                    let page = try await connection.accountsPage(after: after, limit: 7)
                    all += try page.accounts.map { try AccountNormalizer.normalize($0, zone: ServerTimeZone("+00:00")!).get() }
                    guard page.more, let last = all.last else { return all }
                    after = last.login
                }
            }
        }
        #expect(accounts.map { SimulatedAccount(login: $0.login, group: $0.group ?? "", currency: $0.currency ?? "", clientID: $0.clientID) } == dataset.accounts)
        #expect(accounts.filter { $0.clientID == nil }.map(\.login) == [100_013, 100_026])
        #expect(accounts.filter { $0.group == "real\\cent" }.allSatisfy { $0.currency == "USC" && $0.clientID != nil })
    }

    // MARK: Daily truth

    /// Server days of a dataset.
    static func days(_ dataset: SimulatedDataset) -> Range<Int64> {
        dataset.configuration.firstDay..<dataset.configuration.firstDay + Int64(dataset.configuration.days)
    }

    @Test("MT5: the daily truth agrees with the per-login ground truth: closing volume at most half of all volume, most of it", arguments: [0, 1])
    func mt5AgreesWithGroundTruth(generation: Int) {
        let dataset = Self.dataset(.mt5)
        let daily = dataset.dailyTruth(generation: generation)
        let perLogin = dataset.groundTruth(generation: generation)
        #expect(Set(daily.keys.map(\.login)).isSubset(of: Set(perLogin.keys)))
        #expect(Set(daily.keys.map(\.day)) == Set(Self.days(dataset)), "every day has activity")
        #expect(daily.values.allSatisfy { $0.closingDeals > 0 || $0.depositCents > 0 || $0.withdrawalCents > 0 }, "no empty entries")
        for (login, truth) in perLogin {
            let days = daily.filter { $0.key.login == login }.values
            // Every position is opened and closed the same day, so closing deals hold half the volume, less the
            // technical (rollover) closes; in generation 1 a deleted opening deal can leave its closes behind.
            #expect(days.reduce(0) { $0 + $1.closedVolumeExt } <= (generation == 0 ? truth.volumeExt / 2 : truth.volumeExt), "login \(login)")
            #expect(days.reduce(0) { $0 + $1.closingDeals } < truth.deals, "login \(login)")
        }
        if generation == 0 {
            let closed = daily.values.reduce(0) { $0 + $1.closedVolumeExt }, all = perLogin.values.reduce(0) { $0 + $1.volumeExt }
            #expect(closed <= all / 2 && closed >= all / 2 * 85 / 100, "about 5 % of closes are rollovers: \(closed) of \(all / 2)")
        }
        #expect(daily.values.contains { $0.depositCents > 0 })
    }

    @Test("MT4: per login, the closed volume over all days is exactly the ground truth's volume", arguments: [0, 1])
    func mt4AgreesWithGroundTruth(generation: Int) {
        let dataset = Self.dataset(.mt4)
        let daily = dataset.dailyTruth(generation: generation)
        let perLogin = dataset.groundTruth(generation: generation)
        #expect(Set(daily.keys.map(\.login)) == Set(perLogin.keys))
        for (login, truth) in perLogin {
            let days = daily.filter { $0.key.login == login }.values
            // Balance and credit records have no volume; cancelled pending orders are in neither.
            #expect(days.reduce(0) { $0 + $1.closedVolumeExt } == truth.volumeExt, "login \(login)")
            #expect(days.reduce(0) { $0 + $1.closingDeals } <= truth.deals, "login \(login)")
        }
        #expect(perLogin.values.reduce(0) { $0 + $1.deals } > daily.values.reduce(0) { $0 + $1.closingDeals }, "balance and credit records are not closing deals")
        #expect(daily.values.contains { $0.depositCents > 0 } && daily.values.contains { $0.withdrawalCents > 0 })
    }

    @Test("MT5 generation 1: late deposits raise their day, deleted closing deals take their volume with them")
    func mt5GenerationOne() throws {
        let dataset = Self.dataset(.mt5)
        let before = dataset.dailyTruth(generation: 0), after = dataset.dailyTruth(generation: 1)
        var lateCents: [Key: Int64] = [:], deletedVolume: [Key: UInt64] = [:], deletedClosings: [Key: Int] = [:]
        var balanceTouched: Set<Key> = []
        for day in Self.days(dataset) {
            let original = dataset.deals(onDay: day)
            let mutations = dataset.mutations(onDay: day, original: original)
            func key(_ deal: MT5DealRecord) -> Key { Key(login: UInt64(deal.login!)!, day: Int64(deal.timeMsc!)! / 86_400_000) }
            for deal in mutations.late {
                #expect(deal.action == "2" && Self.cents(deal.profit) > 0, "late postings are deposits")
                lateCents[key(deal), default: 0] += Self.cents(deal.profit)
            }
            for deal in original where mutations.deleted.contains(UInt64(deal.deal!)!) || mutations.updated[UInt64(deal.deal!)!] != nil {
                if deal.action == "2" { balanceTouched.insert(key(deal)) }
                // Closing deals (out, out_by) count unless technical: the simulator's rollover closes (reason 6).
                guard mutations.deleted.contains(UInt64(deal.deal!)!), ["0", "1"].contains(deal.action), ["1", "2", "3"].contains(deal.entry), deal.reason != "6" else { continue }
                deletedVolume[key(deal), default: 0] += UInt64(deal.volumeExt!)!
                deletedClosings[key(deal), default: 0] += 1
            }
        }
        try #require(!deletedVolume.isEmpty && !lateCents.isEmpty)
        for key in Set(before.keys).union(after.keys) {
            let old = before[key] ?? Truth(), new = after[key] ?? Truth()
            // Edits change profit only, late postings are balance deals: closed volume moves by the deletions alone.
            #expect(Int64(old.closedVolumeExt) - Int64(new.closedVolumeExt) == Int64(deletedVolume[key] ?? 0), "\(key.date) login \(key.login)")
            #expect(old.closingDeals - new.closingDeals == deletedClosings[key] ?? 0, "\(key.date) login \(key.login)")
            if !balanceTouched.contains(key) {
                #expect(new.depositCents - old.depositCents == lateCents[key] ?? 0, "\(key.date) login \(key.login)")
            }
        }
        let lateOnly = lateCents.keys.filter { !balanceTouched.contains($0) }
        try #require(!lateOnly.isEmpty)
        #expect(lateOnly.allSatisfy { before[$0] != after[$0] }, "a day with a late deposit differs between generations")
    }

    @Test("MT4 generation 1: late trades add their volume to their close day, deleted trades take theirs away")
    func mt4GenerationOne() throws {
        let dataset = Self.dataset(.mt4)
        let before = dataset.dailyTruth(generation: 0), after = dataset.dailyTruth(generation: 1)
        var delta: [Key: (volume: Int64, closings: Int)] = [:]
        var lateKeys: Set<Key> = [], deletions = 0
        for day in Self.days(dataset) {
            let original = dataset.closedTrades(onDay: day)
            let mutations = dataset.tradeMutations(onDay: day, original: original)
            func key(_ trade: SimulatedTrade) -> Key { Key(login: UInt64(trade.record.login!)!, day: trade.closeTime / 86_400) }
            func isClosedTrade(_ trade: SimulatedTrade) -> Bool { trade.record.cmd == "0" || trade.record.cmd == "1" }
            for trade in mutations.late where isClosedTrade(trade) {
                delta[key(trade), default: (0, 0)].volume += Int64(trade.record.volume!)! * 1_000_000
                delta[key(trade), default: (0, 0)].closings += 1
                lateKeys.insert(key(trade))
            }
            for trade in original where mutations.deleted.contains(trade.order) && isClosedTrade(trade) {
                delta[key(trade), default: (0, 0)].volume -= Int64(trade.record.volume!)! * 1_000_000
                delta[key(trade), default: (0, 0)].closings -= 1
                deletions += 1
            }
        }
        try #require(!lateKeys.isEmpty && deletions > 0)
        for key in Set(before.keys).union(after.keys) {
            let old = before[key] ?? Truth(), new = after[key] ?? Truth()
            #expect(Int64(new.closedVolumeExt) - Int64(old.closedVolumeExt) == delta[key]?.volume ?? 0, "\(key.date) login \(key.login)")
            #expect(new.closingDeals - old.closingDeals == delta[key]?.closings ?? 0, "\(key.date) login \(key.login)")
        }
        #expect(lateKeys.contains { before[$0] != after[$0] }, "a day with a late trade differs between generations")
    }

    @Test("keys order by day, then login, and name their server day")
    func keys() {
        let keys = [Key(login: 2, day: 20_090), Key(login: 9, day: 20_089), Key(login: 1, day: 20_090)]
        #expect(keys.sorted() == [Key(login: 9, day: 20_089), Key(login: 1, day: 20_090), Key(login: 2, day: 20_090)])
        #expect(Key(login: 1, day: 20_089).date == "2025-01-01")
        #expect(Key(login: 1, day: 20_147).date == "2025-02-28" && Key(login: 1, day: 20_148).date == "2025-03-01")
        #expect(Key(login: 1, day: 0).date == "1970-01-01" && Key(login: 1, day: 19_782).date == "2024-02-29")
    }

    // MARK: The command line

    @Test("mtbridge-sim --daily-truth prints the accounts and the daily truth as JSON", arguments: [Platform.mt5, .mt4])
    func commandLine(platform: Platform) async throws {
        let dataset = SimulatedDataset(.init(seed: 4, serverID: "sim-\(platform.rawValue)-cli", days: 2, dealsPerDay: 80, logins: 14, platform: platform))
        let output = try await Self.runSimulator([
            "--daily-truth", "--platform", platform.rawValue, "--server-id", "sim-\(platform.rawValue)-cli", "--seed", "4", "--from", "2025-01-01",
            "--days", "2", "--deals-per-day", "80", "--logins", "14", "--generation", "1",
        ])
        let json = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any], "\(String(decoding: output, as: UTF8.self).prefix(300))")
        #expect(json["server"] as? String == "sim-\(platform.rawValue)-cli" && json["platform"] as? String == platform.rawValue)

        let accounts = try #require(json["accounts"] as? [[String: Any]])
        #expect(accounts.map { ($0["login"] as? NSNumber)?.uint64Value } == dataset.accounts.map(\.login))
        #expect(accounts.map { $0["group"] as? String } == dataset.accounts.map(\.group))
        #expect(accounts.map { $0["currency"] as? String } == dataset.accounts.map(\.currency))
        #expect(accounts.map { $0["client_id"] as? String } == dataset.accounts.map(\.clientID))
        #expect(accounts.filter { $0["client_id"] == nil }.count == 1, "login 100013 is unmapped: no client_id member at all")

        // Every account's every day: each has a closing state, and the feed's figures and positions where it had activity.
        let rows = try #require(json["days"] as? [[String: Any]])
        let feed = dataset.dailyTruth(generation: 1), states = dataset.dailyStates(generation: 1), positions = dataset.positionTruth(generation: 1)
        let expected = Set(feed.keys).union(states.keys).sorted()
        #expect(rows.count == expected.count && expected.count == dataset.accounts.count * 2)
        for (row, key) in zip(rows, expected) {
            let truth = feed[key] ?? .init(), state = states[key] ?? .init(), position = positions[key] ?? .init()
            #expect((row["login"] as? NSNumber)?.uint64Value == key.login && row["date"] as? String == key.date)
            #expect((row["closed_volume_ext"] as? NSNumber)?.uint64Value == truth.closedVolumeExt)
            #expect((row["deposit_cents"] as? NSNumber)?.int64Value == truth.depositCents)
            #expect((row["withdrawal_cents"] as? NSNumber)?.int64Value == truth.withdrawalCents)
            #expect((row["closing_deals"] as? NSNumber)?.intValue == truth.closingDeals)
            #expect((row["balance_cents"] as? NSNumber)?.int64Value == state.balanceCents && (row["credit_cents"] as? NSNumber)?.int64Value == state.creditCents)
            #expect((row["open_volume_ext"] as? NSNumber)?.int64Value == position.openVolumeExt && (row["trades"] as? NSNumber)?.intValue == position.trades)
        }
        #expect(Set(rows.compactMap { $0["date"] as? String }) == ["2025-01-01", "2025-01-02"])
    }

    /// Runs the built mtbridge-sim to its end and returns what it printed. Awaited, never blocked on; output goes
    /// to a file, so a large answer never fills a pipe.
    static func runSimulator(_ arguments: [String]) async throws -> Data {
        let process = Process()
        process.executableURL = try simulatorBinary()
        process.arguments = arguments
        let file = FileManager.default.temporaryDirectory.appending(path: "mtbridge-sim-daily-truth-\(UUID().uuidString).json")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: file) }
        let handle = try FileHandle(forWritingTo: file)
        process.standardOutput = handle
        process.standardError = FileHandle.nullDevice
        let exit = try process.runWatched()
        let status = await exit.wait()
        try? handle.close()
        #expect(status == 0, "mtbridge-sim \(arguments.joined(separator: " ")) exited \(status)")
        return try Data(contentsOf: file)
    }

    /// mtbridge-sim beside the mtsync that scripts/test exports (MTSYNC_BIN), or beside this test bundle (what
    /// `swift test` builds).
    static func simulatorBinary() throws -> URL {
        var candidates: [URL] = []
        if let mtsync = ProcessInfo.processInfo.environment["MTSYNC_BIN"] {
            candidates.append(URL(fileURLWithPath: mtsync).deletingLastPathComponent().appending(path: "mtbridge-sim"))
        }
        var folder = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        for _ in 0..<4 {
            folder = folder.deletingLastPathComponent()
            candidates.append(folder.appending(path: "mtbridge-sim"))
        }
        guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw MissingSimulator(searched: candidates.map(\.path))
        }
        return binary
    }

    struct MissingSimulator: Error, CustomStringConvertible {
        let searched: [String]
        var description: String { "no built mtbridge-sim (looked in \(searched.joined(separator: ", "))): build it with swift build --product mtbridge-sim, or run scripts/test" }
    }

    /// Cents of a money text the simulator wrote (whole cents).
    static func cents(_ text: String?) -> Int64 {
        Int64(ExactDecimal(parsing: text ?? "0")!.multiplied(by: ExactDecimal(100))!.description)!
    }
}
