import MTSyncCore
import Testing

@Suite("The account decides: filters, currency and holding, from the account at the fact's time")
struct AccountPolicyTests {
    static let server = try! ServerID("live-mt5")
    static let normalizer = Normalizer(settings: ServerSettings(server: server, platform: .mt5, zone: ServerTimeZone("+00:00")!))
    static let demoFilter = AccountFilter(groupMasks: ["real\\*", "!*demo*"])

    /// A deal of login 1001 at `milliseconds` (UTC: the zone is +00:00).
    static func facts(at milliseconds: Int64 = 1_735_725_600_000) -> [TradingFact] {
        let record = MT5DealRecord(fields: [
            "Deal": "700001", "Login": "1001", "Action": "0", "Entry": "1", "TimeMsc": String(milliseconds), "Symbol": "EURUSD",
            "VolumeExt": "100000000", "Price": "1.1", "Profit": "10",
        ])
        guard case .facts(let facts) = normalizer.normalize(record) else { preconditionFailure("the fixture normalizes") }
        return facts
    }

    @Test("a demo group's fact is excluded with the reason, a real one is sent with the account currency")
    func groupsDecide() {
        let policy = AccountPolicy(filter: Self.demoFilter)
        let demo = policy.decide(Self.facts(), login: 1001, history: AccountHistory(always: AccountState(group: "demo\\forex", currency: "USD")))
        #expect(demo == .decided(Self.facts().map { var fact = $0; fact.currency = "USD"; fact.excludedReason = .groupExcluded; return fact }))
        let real = policy.decide(Self.facts(), login: 1001, history: AccountHistory(always: AccountState(group: "real\\A", currency: "EUR")))
        guard case .decided(let facts) = real else { Issue.record("expected a decision"); return }
        #expect(facts.map(\.excludedReason) == [nil])
        #expect(facts.map(\.currency) == ["EUR"])
    }

    @Test("an account not known yet is held, never guessed; unknown_group: include sends it without one")
    func unknownAccounts() {
        #expect(AccountPolicy(filter: Self.demoFilter).decide(Self.facts(), login: 1001, history: nil) == .pending(.accountUnknown))
        #expect(AccountPolicy().decide(Self.facts(), login: 1001, history: nil) == .pending(.accountUnknown), "no filters: still held for its currency")
        let include = AccountPolicy(filter: AccountFilter(groupMasks: ["real\\*"], unknownGroup: .include))
        guard case .decided(let facts) = include.decide(Self.facts(), login: 1001, history: nil) else { Issue.record("expected a decision"); return }
        #expect(facts.map(\.excludedReason) == [nil] && facts.map(\.currency) == [nil])
    }

    @Test("an account without a group is held when group masks are configured, decided when none are")
    func accountWithoutGroup() {
        let history = AccountHistory(always: AccountState(group: nil, currency: "USD"))
        #expect(AccountPolicy(filter: Self.demoFilter).decide(Self.facts(), login: 1001, history: history) == .pending(.groupUnknown))
        guard case .decided(let facts) = AccountPolicy().decide(Self.facts(), login: 1001, history: history) else { Issue.record("expected a decision"); return }
        #expect(facts.map(\.currency) == ["USD"])
    }

    @Test("excluded logins win whatever the account; the rules file's accounts override the bridge's")
    func loginsAndOverrides() {
        let history = AccountHistory(always: AccountState(group: "real\\A", currency: "USD"))
        let excluded = AccountPolicy(filter: AccountFilter(excludeLogins: [1000...1999]))
        #expect(excluded.decide(Self.facts(), login: 1001, history: history) == .decided(Self.facts().map {
            var fact = $0; fact.currency = "USD"; fact.excludedReason = .loginExcluded; return fact
        }))
        let overridden = AccountPolicy(filter: Self.demoFilter, overrides: [1001: AccountInfo(group: "demo\\x", currency: "USD")])
        guard case .decided(let facts) = overridden.decide(Self.facts(), login: 1001, history: history) else { Issue.record("expected a decision"); return }
        #expect(facts.map(\.excludedReason) == [.groupExcluded])
        guard case .decided = overridden.decide(Self.facts(), login: 1001, history: nil) else { Issue.record("an override decides without the bridge"); return }
    }

    @Test("a group change applies from its time: demo before the move, real after it", arguments: [
        (Int64(1_000), SkipReason?.some(.groupExcluded)), (1_999, .groupExcluded), (2_000, nil), (9_000, nil),
    ])
    func groupChangeHoldsFromItsTime(milliseconds: Int64, excluded: SkipReason?) {
        let history = AccountHistory([
            AccountState(group: "real\\A", currency: "USD", validFromUTCMilliseconds: 2_000),
            AccountState(group: "demo\\forex", currency: "USD", validFromUTCMilliseconds: nil),
        ])
        #expect(history.state(atUTCMilliseconds: milliseconds)?.group == (excluded == nil ? "real\\A" : "demo\\forex"))
        guard case .decided(let facts) = AccountPolicy(filter: Self.demoFilter).decide(Self.facts(at: milliseconds), login: 1001, history: history) else {
            Issue.record("expected a decision")
            return
        }
        #expect(facts.map(\.excludedReason) == [excluded])
    }
}

@Suite("Account and symbol records: validated before they can decide anything")
struct AccountRecordValidationTests {
    static let zone = ServerTimeZone("+02:00")!

    static func account(_ fields: [String: String]) -> RawAccountRecord {
        var record = RawAccountRecord()
        for (name, value) in fields { record.set(name, value) }
        return record
    }

    @Test("a complete account: currency upper-cased, updated_ms in UTC, money exact")
    func complete() throws {
        let record = Self.account([
            "login": "1001", "group": "real\\A", "currency": "usd", "leverage": "500", "client_id": "C-1", "updated_ms": "1735725600000",
            "balance": "1000.50", "credit": "0", "equity": "1010.25", "margin": "12.5", "margin_free": "997.75",
        ])
        let account = try AccountNormalizer.normalize(record, zone: Self.zone).get()
        #expect(account.login == 1001 && account.currency == "USD" && account.leverage == 500 && account.clientID == "C-1")
        #expect(account.updatedUTCMilliseconds == Int64(1_735_718_400_000), "10:00 on a +02:00 server is 08:00 UTC")
        #expect(account.money?.balance?.description == "1000.5" && account.money?.equity?.description == "1010.25")
        let bare = try AccountNormalizer.normalize(Self.account(["login": "7", "client_id": ""]), zone: Self.zone).get()
        #expect(bare.money == nil && bare.clientID == nil && bare.group == nil)
    }

    @Test("a bad account record is refused naming its field", arguments: [
        ("login", "abc", NormalizationRejection.Rule.notUnsignedInteger), ("login", "0", .notPositive),
        ("currency", "US Dollar", .notCurrency), ("currency", "$", .notCurrency), ("currency", "U5D", .notCurrency),
        ("leverage", "0", .outOfRange), ("leverage", "-100", .outOfRange), ("leverage", "1:500", .notInteger),
        ("balance", "1,000.50", .notDecimal), ("equity", "NaN", .notDecimal), ("updated_ms", "9223372036854775807", .outOfRange),
    ])
    func refused(field: String, value: String, rule: NormalizationRejection.Rule) {
        var fields = ["login": "1001", "currency": "USD"]
        fields[field] = value
        guard case .failure(let rejection) = AccountNormalizer.normalize(Self.account(fields), zone: Self.zone) else {
            Issue.record("\(field) = \(value) should be refused")
            return
        }
        #expect(rejection.field == field && rejection.rule == rule)
    }

    @Test("a symbol: contract size exact and positive, digits 0 to 18, currencies upper-cased")
    func symbols() throws {
        var record = RawSymbolRecord()
        for (name, value) in ["symbol": "EURUSD.pro", "contract_size": "100000", "digits": "5", "profit_currency": "usd", "calc_mode": "0"] {
            record.set(fieldAt: RawSymbolRecord.fieldIndex[name]!, value)
        }
        let symbol = try record.normalized().get()
        #expect(symbol.contractSize == ExactDecimal(100_000) && symbol.digits == 5 && symbol.profitCurrency == "USD")
        record.set(fieldAt: RawSymbolRecord.fieldIndex["contract_size"]!, "-1")
        #expect((try? record.normalized().get()) == nil)
        record.set(fieldAt: RawSymbolRecord.fieldIndex["contract_size"]!, "1")
        record.set(fieldAt: RawSymbolRecord.fieldIndex["digits"]!, "99")
        #expect((try? record.normalized().get()) == nil)
    }

    @Test("a server's symbol gives the contract size a record lacks (MT4 trades carry none); the record's own wins")
    func serverSymbolContractSize() throws {
        var settings = ServerSettings(server: try ServerID("live-mt4"), platform: .mt4, zone: Self.zone)
        settings.serverSymbols = ["XAUUSD.m": ServerSymbol(symbol: "XAUUSD.m", contractSize: ExactDecimal(50))]
        let trade = MT4TradeRecord(fields: [
            "order": "1", "login": "5", "symbol": "XAUUSD.m", "cmd": "0", "volume": "100", "open_time": "1735725600", "close_time": "0",
        ])
        guard case .facts(let facts) = Normalizer(settings: settings).normalize(trade) else { Issue.record("expected facts"); return }
        #expect(facts.first?.contractSize == ExactDecimal(50), "the table's default for XAUUSD is 100; the server says 50")
    }
}
