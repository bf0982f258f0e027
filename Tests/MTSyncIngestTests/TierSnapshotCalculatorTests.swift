import Foundation
import MTSyncCore
import MTSyncIngest
import Testing

/// docs/ingest.md, "Tier snapshots": the rules a row is decided by, one at a time, without a store.
@Suite("Tier snapshots: one row per customer and closed day, from its real accounts' states and figures")
struct TierSnapshotCalculatorTests {
    static func decimal(_ text: String) -> ExactDecimal { ExactDecimal(parsing: text)! }
    static let rules = DailyFeedRules(reportingCurrency: "USD", centGroups: ["*cent*"], centFactor: decimal("0.01"), rates: ["EUR": decimal("1.1")])
    static let realOnly = AccountPolicy(filter: AccountFilter(groupMasks: ["!demo*"]))
    /// 2025-01-01 .. 2025-01-05 as days since 1970.
    static let first: Int64 = 20_089

    static func figures(closed: String = "0", trades: Int = 0, open: String = "0", deposits: String = "0", withdrawals: String = "0", unknownReversals: Int = 0) -> TierSnapshotCalculator.DayFigures {
        .init(closedLots: decimal(closed), unknownReversals: unknownReversals, trades: trades, openDelta: decimal(open), deposits: decimal(deposits), withdrawals: decimal(withdrawals))
    }

    static func state(_ balance: String, credit: String = "0", source: TierSnapshotRow.BalanceSource = .daily) -> TierSnapshotCalculator.State {
        .init(source: source, currency: nil, balance: decimal(balance), credit: decimal(credit), equity: decimal(balance).adding(decimal(credit)))
    }

    static func account(
        _ key: String, group: String = "real\\A", currency: String = "USD", states: [Int64: TierSnapshotCalculator.State] = [:],
        figures: [Int64: TierSnapshotCalculator.DayFigures] = [:], known: Bool = true
    ) -> TierSnapshotCalculator.Account {
        .init(
            key: key, login: UInt64(key.split(separator: ":").last!)!, group: group, currency: currency, policy: realOnly,
            history: known ? AccountHistory(always: AccountState(group: group, currency: currency)) : nil, figures: figures, states: states)
    }

    static func rows(_ accounts: [TierSnapshotCalculator.Account], from: Int64 = first, to: Int64 = first + 4) -> Result<[TierSnapshotRow], DailyFeedHold> {
        TierSnapshotCalculator.rows(customerID: "BRK-1", accounts: accounts, fromDay: from, toDay: to, rules: rules, close: { ($0 + 1) * 86_400_000 })
    }

    @Test("balances, credit and equity are the real accounts' closing states summed across servers, in the reporting currency")
    func sumsAcrossServers() throws {
        let rows = try Self.rows([
            Self.account("mt5:7", states: [Self.first: Self.state("100.10", credit: "5")]),
            Self.account("mt4:7", currency: "EUR", states: [Self.first: Self.state("200")]),
            Self.account("mt4:8", group: "real\\cent", currency: "USC", states: [Self.first: Self.state("12345")]),
        ], to: Self.first).get()
        let row = try #require(rows.first)
        #expect(rows.count == 1)
        #expect(row.balance == Self.decimal("443.55"))  // 100.10 + 200 × 1.1 + 12345 × 0.01
        #expect(row.credit == Self.decimal("5") && row.equity == Self.decimal("448.55"))
        #expect(row.balanceSource == .daily)
        #expect(row.accounts == ["mt4:7", "mt4:8", "mt5:7"])
    }

    @Test("a demo account never counts, not even in the customer's balance; a customer with only demo accounts has no row")
    func demoNeverCounts() throws {
        let rows = try Self.rows([
            Self.account("mt5:7", states: [Self.first: Self.state("100")], figures: [Self.first: Self.figures(closed: "1", trades: 1)]),
            Self.account("mt5:9", group: "demo\\forex", states: [Self.first: Self.state("100000")], figures: [Self.first: Self.figures(closed: "50", trades: 9)]),
        ], to: Self.first).get()
        #expect(rows.map(\.balance) == [Self.decimal("100")])
        #expect(rows.map(\.closedLots) == [Self.decimal("1")] && rows.map(\.activeAccounts) == [1])
        #expect(try Self.rows([Self.account("mt5:9", group: "demo\\forex", states: [Self.first: Self.state("1")])]).get().isEmpty)
    }

    @Test("a real account without its closing state that day leaves the balances out (balance_source none): never a partial sum")
    func gapLeavesBalancesOut() throws {
        let rows = try Self.rows([
            Self.account("mt5:7", states: [Self.first: Self.state("100"), Self.first + 1: Self.state("110")]),
            Self.account("mt4:7", states: [Self.first: Self.state("50")]),
        ], to: Self.first + 1).get()
        #expect(rows.map(\.balanceSource) == [.daily, TierSnapshotRow.BalanceSource.none])
        #expect(rows[1].balance == nil && rows[1].credit == nil && rows[1].equity == nil)
        #expect(!rows[1].rowJSON.contains("balance\":") && rows[1].rowJSON.contains(#""balance_source":"none""#))
    }

    @Test("an account counts from its first state or fact on: a second account opened later leaves the earlier days whole")
    func laterAccountLeavesEarlierDaysWhole() throws {
        let rows = try Self.rows([
            Self.account("mt5:7", states: Dictionary(uniqueKeysWithValues: (0..<3).map { (Self.first + $0, Self.state("100")) })),
            Self.account("mt5:8", states: [Self.first + 2: Self.state("40")]),
        ], to: Self.first + 2).get()
        #expect(rows.map(\.balanceSource) == [.daily, .daily, .daily])
        #expect(rows.map(\.balance) == ["100", "100", "140"].map(Self.decimal))
    }

    @Test("money polled from the accounts stream makes the row `polled`; a day's daily record is `daily`")
    func polledSource() throws {
        let rows = try Self.rows([
            Self.account("mt5:7", states: [Self.first: Self.state("100", source: .polled)]),
            Self.account("mt5:8", states: [Self.first: Self.state("1")]),
        ], to: Self.first).get()
        #expect(rows.map(\.balanceSource) == [.polled])
    }

    @Test("net deposits carry from the history's start; closed lots of the day and of the 30 days ending with it; open lots carry; an account is active when it traded in those 30 days")
    func runningFigures() throws {
        let figures: [Int64: TierSnapshotCalculator.DayFigures] = [
            Self.first: Self.figures(closed: "1", trades: 2, open: "0.5", deposits: "1000"),
            Self.first + 2: Self.figures(closed: "2.25", trades: 1, open: "-0.5", withdrawals: "100"),
            Self.first + 40: Self.figures(deposits: "1"),
        ]
        let states = Dictionary(uniqueKeysWithValues: (0...40).map { (Self.first + Int64($0), Self.state("1")) })
        let rows = try Self.rows([Self.account("mt5:7", states: states, figures: figures)], to: Self.first + 40).get()
        #expect(rows.count == 41, "a row every day with a state")
        #expect(rows[1].netDeposits == Self.decimal("1000") && rows[1].openLots == Self.decimal("0.5") && rows[1].closedLots.isZero)
        #expect(rows[2].netDeposits == Self.decimal("900") && rows[2].openLots.isZero && rows[2].closedLots == Self.decimal("2.25"))
        #expect(rows[29].closedLots30d == Self.decimal("3.25") && rows[29].activeAccounts == 1)
        #expect(rows[30].closedLots30d == Self.decimal("2.25"), "day 1 has left the window")
        #expect(rows[32].closedLots30d.isZero && rows[32].activeAccounts == 0)
        #expect(rows[40].netDeposits == Self.decimal("901"))
    }

    @Test("a reversal without its closed volume in the 30-day window holds the customer: the volume is not guessed")
    func unknownReversalHolds() {
        let result = Self.rows([Self.account("mt5:7", states: [Self.first: Self.state("1")], figures: [Self.first: Self.figures(closed: "1", trades: 1, unknownReversals: 1)])])
        guard case .failure(let hold) = result else { Issue.record("expected a hold"); return }
        #expect(hold.reason.contains("VolumeClosedExt"))
    }

    @Test("an account not known yet holds the customer's snapshot; a currency without a rate does too")
    func undecidedHolds() {
        guard case .failure(let unknown) = Self.rows([Self.account("mt5:7", states: [Self.first: Self.state("1")], known: false)]) else {
            Issue.record("expected a hold"); return
        }
        #expect(unknown.reason.contains("not decided yet"))
        guard case .failure(let rate) = Self.rows([Self.account("mt5:7", currency: "GBP", states: [Self.first: Self.state("1")])]) else {
            Issue.record("expected a hold"); return
        }
        #expect(rate.reason.contains("GBP"))
    }

    /// docs/ingest/feed/tier-snapshot-message.json and tier-snapshot-upload.csv are what mtsync writes, byte for byte.
    @Test("the documented example message and upload are exactly what the packer writes for its rows")
    func documentedExample() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appending(path: "docs/ingest/feed")
        let message = try String(contentsOf: folder.appending(path: "tier-snapshot-message.json"), encoding: .utf8)
        let csv = try Data(contentsOf: folder.appending(path: "tier-snapshot-upload.csv"))
        func row(_ user: String, _ money: [String]?, _ net: String, _ lots: [String], _ active: Int, _ source: TierSnapshotRow.BalanceSource) -> TierSnapshotRow {
            TierSnapshotRow(
                customerID: user, date: "2026-03-29", balance: money.map { Self.decimal($0[0]) }, credit: money.map { Self.decimal($0[1]) },
                equity: money.map { Self.decimal($0[2]) }, netDeposits: Self.decimal(net), closedLots: Self.decimal(lots[0]), closedLots30d: Self.decimal(lots[1]),
                openLots: Self.decimal(lots[2]), activeAccounts: active, balanceSource: source, accounts: [])
        }
        let rows = [
            row("BRK-100234", ["12500.40", "0.00", "12631.10"], "10000.00", ["3.5", "41.25", "2"], 2, .daily),
            row("BRK-100240", ["1830.05", "100.00", "1795.62"], "1500.00", ["12.25", "58.75", "0.049"], 1, .polled),
            row("BRK-100251", nil, "-250.00", ["0", "0.75", "0"], 1, .none),
        ]
        let entries = rows.map { DailyFeedPacker.Entry(row: $0, revision: 1) }
        let envelope = DailyFeedEnvelope(triggerID: "75f0c1e2a9b8c7d6e5f4a3b9", source: "mtsync")
        let batch = try #require(DailyFeedPacker.messages(entries, envelope: envelope, maximumRows: 500, maximumBytes: 262_144).first)
        let documentedID = try #require(message.firstRange(of: /mtsync-[0-9a-f]{32}/)).lowerBound
        var documented = message.trimmingCharacters(in: .newlines)
        documented.replaceSubrange(documentedID..<message.index(documentedID, offsetBy: 39), with: batch.batchID)
        #expect(String(decoding: batch.body, as: UTF8.self) == documented)
        #expect(DailyFeedPacker.csv(entries) == Array(csv))
    }
}
