import Foundation
import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncEngine
import MTSyncIngest
import MTSyncStore
import MTSyncTestSupport
import Testing

/// Issue 19: what the bridge says about an account decides what is sent, on TCP and CSV alike. Every test runs
/// against the reference bridge over loopback TCP (or its CSV drop) and a real PostgreSQL.
@Suite("The account decides: demo groups, late accounts, group moves, drop accounts, symbols and open trades")
struct AccountDecisionSyncTests {
    /// The filter of the issue's ordinary deployment: groups known only from the bridge.
    static let demoFilter = AccountFilter(groupMasks: ["real\\*", "!*demo*"])

    @Test("demo deals are stored but never sent: the filter sees the groups the accounts stream sends, and sent facts carry the account currency", arguments: [Platform.mt5, .mt4])
    func demoGroupsFromTheBridge(platform: Platform) async throws {
        let fixture = try await SyncFixture(platform: platform, days: 2)
        let demo = Set(fixture.dataset.accounts.filter(\.isDemo).map(\.login))
        try #require(!demo.isEmpty)
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try fixture.sync(port: port, filter: Self.demoFilter)
            try await sync.register()
            let report = try await sync.pull()
            #expect(report.outcome.excluded > 0 && report.outcome.pending == 0)

            let demoList = PostgresArray(demo.map { Int64($0) }).postgresText
            // Every demo fact is stored, excluded by its group, and has no event; every other fact has one.
            #expect(try await fixture.count("SELECT count(*) FROM trading_facts WHERE login = ANY(\(demoList)::bigint[]) AND excluded_reason IS DISTINCT FROM 'group_excluded'") == 0)
            #expect(try await fixture.count("SELECT count(*) FROM trading_facts WHERE login = ANY(\(demoList)::bigint[])") > 0)
            #expect(try await fixture.count("SELECT count(*) FROM outbox o JOIN trading_facts f USING (fact_id) WHERE f.excluded_reason IS NOT NULL") == 0)
            let counted = try await fixture.count("SELECT count(*) FROM trading_facts WHERE excluded_reason IS NULL")
            let created = try await fixture.count("SELECT count(*) FROM outbox WHERE event_kind = 'fact.created'")
            #expect(counted > 0 && created == counted)
            // The account's currency, from the accounts stream, on every fact.
            let currencies = try await fixture.connection.query("SELECT DISTINCT login, currency FROM trading_facts").map {
                (UInt64(try $0.decode(Int64.self, 0)), try $0.decode(String?.self, 1))
            }
            #expect(currencies.allSatisfy { login, currency in currency == fixture.dataset.account(login: login)?.currency }, "\(currencies)")

            // The hourly aggregates count only what is sent, and say its currency.
            try await fixture.connection.query("UPDATE aggregate_hours_dirty SET hour_start = hour_start")
            _ = try await HourlyAggregates.emitDue(grace: .zero, on: fixture.connection)
            let aggregates = try await fixture.connection.query("SELECT payload::text FROM outbox WHERE event_kind = 'aggregate.hourly'").map { try $0.decode(String.self, 0) }
            #expect(!aggregates.isEmpty)
            for payload in aggregates {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any])
                let login = try #require((object["login"] as? NSNumber)?.uint64Value)
                #expect(!demo.contains(login), "a demo login's hour was aggregated")
                #expect(object["currency"] as? String == fixture.dataset.account(login: login)?.currency)
            }
        }
    }

    @Test("a deal whose account arrives later is held, not lost: reconcile sees it, and it is sent when the account comes (unknown_group: exclude reads as hold)")
    func lateAccountsAreHeld() async throws {
        let fixture = try await SyncFixture(days: 2, lateAccounts: true)
        let late = fixture.dataset.lateLogins
        try #require(!late.isEmpty)
        let filter = try JSONDecoder().decode(NormalizationRules.self, from: Data(#"{"filters":{"groups":["real\\*","!*demo*"],"unknown_group":"exclude"}}"#.utf8))
        var rules = ServerSettings(server: try ServerID("sim-mt5"), platform: .mt5, zone: ServerTimeZone("ny-close")!)
        try filter.apply(to: &rules)
        let settings = rules
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try fixture.sync(port: port, filter: settings.filter)
            try await sync.register()
            let first = try await sync.pull()
            let lateList = PostgresArray(late.map { Int64($0) }).postgresText
            let lateDeals = fixture.dataset.deals(fromMilliseconds: fixture.dataset.range.lowerBound, toMilliseconds: fixture.dataset.range.upperBound, after: nil, limit: 100_000)
                .records.filter { late.contains(UInt64($0.login!)!) }.count
            #expect(lateDeals > 0 && first.outcome.pending == lateDeals)
            #expect(try await fixture.count("SELECT count(*) FROM pending_records WHERE reason = 'account_unknown' AND login = ANY(\(lateList)::bigint[])") == lateDeals)
            #expect(try await fixture.count("SELECT count(*) FROM trading_facts WHERE login = ANY(\(lateList)::bigint[])") == 0, "held, not stored as decided")
            let status = try await ServerStatus.read(serverID: "sim-mt5", on: fixture.connection)
            #expect(status.first?.pending.records == lateDeals && status.first?.pending.logins == late.count)
            // The bridge has them and so does the store (as held records): reconcile finds nothing to repair.
            let reconcile = try await sync.reconcile(fromMilliseconds: fixture.dataset.range.lowerBound, toMilliseconds: fixture.dataset.range.upperBound, repair: false)
            #expect(reconcile.differing.isEmpty, "\(reconcile.differing)")

            // The accounts arrive: the next pull reads them and decides what was held.
            fixture.simulator.setGeneration(1)
            let second = try await sync.pull()
            #expect(second.released >= lateDeals - 5, "released \(second.released) of \(lateDeals) (some were edited or deleted meanwhile)")
            #expect(try await fixture.count("SELECT count(*) FROM pending_records") == 0)
            // Generation 1 also posted late deals before the lookback window: a reconcile with repair stores them.
            _ = try await sync.reconcile(fromMilliseconds: fixture.dataset.range.lowerBound, toMilliseconds: fixture.dataset.range.upperBound, repair: true)
            #expect(try await fixture.storedTruth() == fixture.dataset.groundTruth(generation: 1))
            let lateDemo = late.filter { fixture.dataset.account(login: $0)?.isDemo == true }
            let sentLate = try await fixture.count("SELECT count(*) FROM outbox o JOIN trading_facts f USING (fact_id) WHERE f.login = ANY(\(lateList)::bigint[])")
            let countedLate = try await fixture.count("SELECT count(*) FROM trading_facts WHERE login = ANY(\(lateList)::bigint[]) AND excluded_reason IS NULL")
            #expect(countedLate > 0 && sentLate >= countedLate, "each counted fact of a late account has its event")
            #expect(try await fixture.count("SELECT count(*) FROM trading_facts WHERE login = ANY(\(PostgresArray(lateDemo.map { Int64($0) }).postgresText)::bigint[]) AND excluded_reason IS NULL") == 0)
        }
    }

    @Test("a demo → real move applies from its time: deals before it stay excluded, deals after it are sent when the move is learned")
    func demoMovesToReal() async throws {
        let fixture = try await SyncFixture(days: 4, lateAccounts: false, groupMoves: true, logins: 20)
        let moved = fixture.dataset.movedLogins
        try #require(!moved.isEmpty)
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try fixture.sync(port: port, filter: Self.demoFilter)
            try await sync.register()
            _ = try await sync.pull()
            let movedList = PostgresArray(moved.map { Int64($0) }).postgresText
            #expect(try await fixture.count("SELECT count(*) FROM trading_facts WHERE login = ANY(\(movedList)::bigint[]) AND excluded_reason IS NULL") == 0,
                    "still demo at generation 0")

            fixture.simulator.setGeneration(1)
            // The accounts are read again on the next pull (the test's accounts_every is the default 15 minutes: force it).
            _ = try await sync.accountSync.pull()
            let rows = try await fixture.connection.query("""
                SELECT f.server_time_msc, f.excluded_reason, (SELECT count(*) FROM outbox o WHERE o.fact_id = f.fact_id AND o.event_kind LIKE 'fact.%')
                FROM trading_facts f WHERE f.login = ANY(\(movedList)::bigint[]) AND NOT f.deleted
                """)
            var before = 0, after = 0
            for row in rows {
                let time = try row.decode(Int64.self, 0), reason = try row.decode(String?.self, 1), events = try row.decode(Int.self, 2)
                if time >= fixture.dataset.moveMilliseconds {
                    after += 1
                    #expect(reason == nil && events == 1, "a deal after the move is sent, once")
                } else {
                    before += 1
                    #expect(reason == "group_excluded" && events == 0, "a deal before the move stays demo")
                }
            }
            #expect(before > 0 && after > 0)
            let history = try await fixture.count("SELECT count(*) FROM account_versions WHERE login = ANY(\(movedList)::bigint[])")
            #expect(history == 2 * moved.count, "each moved account: its demo state and its real one, kept")
        }
    }

    @Test("the CSV drop's accounts file decides like the accounts stream: a drop without it holds everything, the file releases it")
    func dropAccountsFile() async throws {
        let root = FileManager.default.temporaryDirectory.appending(path: "mtsync-dropaccounts-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let dataset = SimulatedDataset(.init(seed: 8, serverID: "drop-mt5", days: 2, dealsPerDay: 120, logins: 12))
        let writer = DropFolderWriter(root: root.path)
        try writer.publish(dataset, accounts: false)
        let (_, connection) = try await TestDatabase.migrated()
        let settings = ServerSettings(server: try ServerID("drop-mt5"), platform: .mt5, zone: ServerTimeZone("ny-close")!, filter: Self.demoFilter)
        try await FactStore.register(serverID: settings.server, platform: .mt5, zone: "ny-close", on: connection)
        let sync = DropServerSync(
            intake: DropFolderIntake(folder: try DropFolder(root: root.path, serverID: "drop-mt5"), connection: connection, batchSize: 50),
            batcher: RecordBatcher(normalizer: Normalizer(settings: settings)))
        let held = try await sync.pull()
        let deals = dataset.groundTruth().values.reduce(0) { $0 + $1.deals }
        #expect(held.outcome.pending == deals)
        #expect(try await connection.query("SELECT count(*) FROM outbox")[0].decode(Int.self, 0) == 0, "nothing sent without the accounts")

        try writer.publishAccounts(dataset, sequence: 2)
        let released = try await sync.pull()
        #expect(released.released == deals)
        #expect(try await connection.query("SELECT count(*) FROM pending_records")[0].decode(Int.self, 0) == 0)
        let counted = try await connection.query("SELECT count(*) FROM trading_facts WHERE excluded_reason IS NULL")[0].decode(Int.self, 0)
        let events = try await connection.query("SELECT count(*) FROM outbox")[0].decode(Int.self, 0)
        #expect(counted > 0 && events == counted)
        // The drop's logins have their currency and customer id, so the daily feed releases their days.
        let accounts = try await connection.query("SELECT count(*) FILTER (WHERE currency IS NOT NULL), count(customer_id) FROM accounts WHERE server_id = 'drop-mt5'")[0]
        #expect(try accounts.decode(Int.self, 0) == dataset.accounts.count)
        #expect(try accounts.decode(Int.self, 1) == dataset.accounts.filter { $0.clientID != nil }.count)
        let builder = DailyFeedBuilder(
            settings: DailyFeedSettings(rules: DailyFeedRules(centGroups: ["*cent*"], rates: ["EUR": ExactDecimal(parsing: "1.1")!]), envelope: DailyFeedEnvelope(triggerID: "65f0c1e2a9b8c7d6e5f4a3b2", source: "test")),
            connection: connection)
        let feed = try await builder.build()
        #expect(feed.rowsQueued > 0 && feed.customerDaysHeld == 0, "\(feed)")
    }

    @Test("the symbols stream gives MT4 facts the server's contract sizes, over the rules table's")
    func serverSymbols() async throws {
        let fixture = try await SyncFixture(platform: .mt4, days: 1, dealsPerDay: 300)
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try fixture.sync(port: port)
            try await sync.register()
            _ = try await sync.pull()
            #expect(try await fixture.count("SELECT count(*) FROM server_symbols") == SimulatedDataset.mt4Symbols.count)
            let sizes = try await fixture.connection.query("SELECT DISTINCT symbol, contract_size::text FROM trading_facts WHERE symbol IN ('US30', '#AAPL')").map {
                (try $0.decode(String.self, 0), try $0.decode(String?.self, 1))
            }
            try #require(!sizes.isEmpty)
            for (symbol, size) in sizes {
                #expect(size == (symbol == "US30" ? "10" : "1"), "\(symbol): the server's contract size (the table says 1 for US30, nothing for AAPL)")
            }
        }
    }

    @Test("MT4 open trades are read on every pull: their open legs are stored and sent at open time, before they close")
    func mt4OpenTrades() async throws {
        let fixture = try await SyncFixture(platform: .mt4, days: 1, dealsPerDay: 200)
        let open = fixture.dataset.openTrades()
        try #require(!open.isEmpty)
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try fixture.sync(port: port)
            try await sync.register()
            let report = try await sync.pull()
            #expect(report.openTrades == open.count)
            let tickets = PostgresArray(open.map { Int64($0.order) }).postgresText
            #expect(try await fixture.count("SELECT count(*) FROM trading_facts WHERE leg = 1 AND ticket = ANY(\(tickets)::bigint[])") == open.count)
            #expect(try await fixture.count("SELECT count(*) FROM outbox o JOIN trading_facts f USING (fact_id) WHERE f.ticket = ANY(\(tickets)::bigint[]) AND o.event_kind = 'fact.created'") == open.count)
            // Read again: unchanged, nothing new.
            let again = try await sync.pull()
            #expect(again.outcome.inserted == 0 && again.outcome.updated == 0)
        }
    }
}
