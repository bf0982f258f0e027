import MTSyncCore
import Testing

@Suite("Normalizing MT5 deals")
struct MT5NormalizerTests {
    static let server = try! ServerID("live-mt5")
    static let normalizer = Normalizer(settings: ServerSettings(
        server: server, platform: .mt5, zone: ServerTimeZone("Europe/Athens")!,
        accounts: [1001: AccountInfo(group: "real\\A", currency: "USD")]
    ))

    /// A closing EURUSD deal as the MT5 Web API sends it: every number as a string.
    static func deal(_ overrides: [String: String?] = [:]) -> MT5DealRecord {
        var fields: [String: String] = [
            "Deal": "700001", "Login": "1001", "Order": "600001", "PositionID": "500001", "Action": "1", "Entry": "1",
            "Reason": "4", "Time": "1735725600", "TimeMsc": "1735725600250", "Symbol": "EURUSD.pro", "Volume": "10500",
            "VolumeExt": "105000000", "Price": "1.03512", "Profit": "123.45", "Storage": "-2.10", "Commission": "-3.50",
            "Fee": "-0.15", "ContractSize": "100000", "Comment": "[tp 1.03512]",
        ]
        for (name, value) in overrides { fields[name] = value }
        return MT5DealRecord(fields: fields)
    }

    /// The record's one fact, decided from its account as the store decides it (the fixture's account 1001 is in
    /// the settings, as the rules file would give it).
    static func fact(_ record: MT5DealRecord) throws -> TradingFact {
        guard case .facts(let facts) = normalizer.normalize(record), let fact = facts.first, facts.count == 1,
              case .decided(let decided) = AccountPolicy(settings: normalizer.settings).decide(facts, login: fact.login, history: nil)
        else {
            throw Unexpected(outcome: normalizer.normalize(record))
        }
        return decided[0]
    }

    struct Unexpected: Error { let outcome: NormalizationOutcome }

    @Test("a closing deal: identity, side, entry, lots, money, net, time and symbol")
    func closingDeal() throws {
        let fact = try Self.fact(Self.deal())
        #expect(fact.identity == FactIdentity(server: Self.server, ticket: 700001))
        #expect(fact.kind == .trade && fact.side == .sell && fact.entry == .out)
        #expect(fact.lots.description == "1.05")
        #expect(fact.profit.description == "123.45" && fact.swap.description == "-2.1")
        #expect(fact.commission.description == "-3.5" && fact.fee.description == "-0.15")
        #expect(fact.net.description == "117.7", "123.45 - 2.10 - 3.50 - 0.15")
        // 2025-01-01 10:00:00.250 on an Athens server (UTC+2 in winter) is 08:00:00.250 UTC.
        #expect(fact.serverTimeMilliseconds == 1_735_725_600_250)
        #expect(fact.timeUTCMilliseconds == 1_735_725_600_250 - 2 * 3_600_000)
        #expect(fact.zone == "Europe/Athens")
        #expect(fact.symbol == "EURUSD.pro" && fact.symbolCanonical == "EURUSD" && fact.assetClass == .fx)
        #expect(fact.currency == "USD")
        #expect(fact.order == 600001 && fact.position == 500001 && fact.reason == 4)
        #expect(fact.technical == false)
        #expect(fact.idempotencyKey == "live-mt5:700001:1")
    }

    @Test("lots: VolumeExt / 10^8, else Volume / 10^4", arguments: [
        ("105000000" as String?, "10500" as String?, "1.05"), ("1", "0", "0.00000001"), (nil, "10500", "1.05"), (nil, "1", "0.0001"),
        ("12345678900", nil, "123.456789"),
    ])
    func lots(volumeExt: String?, volume: String?, lots: String) throws {
        #expect(try Self.fact(Self.deal(["VolumeExt": volumeExt, "Volume": volume])).lots.description == lots)
    }

    @Test("numbers may come as JSON numbers or strings, exactly; tickets above 2^53 stay exact")
    func bigTickets() throws {
        let fact = try Self.fact(Self.deal(["Deal": "9007199254740993", "Profit": "0.1", "Storage": "0.2", "Commission": nil, "Fee": nil]))
        #expect(fact.identity.ticket == 9_007_199_254_740_993)
        #expect(fact.net.description == "0.3")
    }

    @Test("TimeMsc wins; Time × 1000 is the fallback")
    func timeFallback() throws {
        #expect(try Self.fact(Self.deal(["TimeMsc": nil])).serverTimeMilliseconds == 1_735_725_600_000)
        #expect(try Self.fact(Self.deal(["TimeMsc": "0"])).serverTimeMilliseconds == 1_735_725_600_000)
    }

    @Test("technical deals are marked by server reason", arguments: [(6, true), (8, true), (12, true), (13, true), (18, true), (19, true), (0, false), (3, false), (7, false), (16, false)])
    func technical(reason: Int, technical: Bool) throws {
        #expect(try Self.fact(Self.deal(["Reason": String(reason)])).technical == technical)
    }

    @Test("balance operations: amount in Profit, no symbol, no lots, no entry")
    func balance() throws {
        let fact = try Self.fact(MT5DealRecord(fields: ["Deal": "9", "Login": "1001", "Action": "2", "Entry": "0", "TimeMsc": "1735725600000", "Profit": "500.00", "Comment": "Deposit #77"]))
        #expect(fact.kind == .balance && fact.side == nil && fact.entry == nil)
        #expect(fact.lots.isZero && fact.symbol == nil && fact.symbolCanonical == nil)
        #expect(fact.net.description == "500")
        #expect(fact.comment == "Deposit #77")
    }

    @Test("MT5's own ContractSize wins over the symbol table")
    func contractSizeFromDeal() throws {
        #expect(try Self.fact(Self.deal(["Symbol": "XAUUSD", "ContractSize": "10"])).contractSize?.description == "10")
        #expect(try Self.fact(Self.deal(["Symbol": "XAUUSD", "ContractSize": nil])).contractSize?.description == "100")
        #expect(try Self.fact(Self.deal(["Symbol": "XAUUSD", "ContractSize": "0"])).contractSize?.description == "100")
    }

    @Test("an unknown action is kept as kind other with its raw code, never guessed")
    func unknownAction() throws {
        let fact = try Self.fact(Self.deal(["Action": "23"]))
        #expect(fact.kind == .other && fact.rawAction == 23 && fact.side == nil && fact.entry == nil)
    }

    @Test("malformed records are rejected naming field, value and rule", arguments: [
        ("Deal", nil as String?, NormalizationRejection.Rule.missing),
        ("Deal", "12a", .notUnsignedInteger), ("Deal", "-5", .notUnsignedInteger), ("Deal", "0", .notPositive),
        ("Deal", "9223372036854775808", .outOfRange), ("Login", "abc", .notUnsignedInteger), ("Login", "1001.0", .notUnsignedInteger),
        ("Action", nil, .missing), ("Entry", "7", .unknownEntry), ("Profit", "1,5", .notDecimal), ("Profit", "NaN", .notDecimal),
        ("Price", "1.2.3", .notDecimal), ("VolumeExt", "1e5", .notUnsignedInteger), ("TimeMsc", "soon", .notInteger),
    ])
    func rejections(field: String, value: String?, rule: NormalizationRejection.Rule) {
        guard case .rejected(let rejection) = Self.normalizer.normalize(Self.deal([field: value])) else {
            Issue.record("expected a rejection for \(field) = \(String(describing: value))")
            return
        }
        #expect(rejection.field == field)
        #expect(rejection.value == value)
        #expect(rejection.rule == rule)
        #expect(rejection.description.contains(field))
    }

    @Test("a deal without any time is rejected")
    func missingTime() {
        guard case .rejected(let rejection) = Self.normalizer.normalize(Self.deal(["Time": nil, "TimeMsc": nil])) else {
            Issue.record("expected a rejection")
            return
        }
        #expect(rejection.rule == .missing)
    }

    @Test("normalization does not decide accounts: a demo login's deal is a fact, which the account policy then excludes")
    func accountsDecideAfterNormalization() throws {
        var settings = Self.normalizer.settings
        settings.filter = AccountFilter(groupMasks: ["!demo*"])
        settings.accounts[2002] = AccountInfo(group: "demoforex", currency: "USD")
        guard case .facts(let facts) = Normalizer(settings: settings).normalize(Self.deal(["Login": "2002"])) else { Issue.record("expected a fact"); return }
        #expect(facts.first?.currency == nil && facts.first?.excludedReason == nil)
        guard case .decided(let decided) = AccountPolicy(settings: settings).decide(facts, login: 2002, history: nil) else { Issue.record("expected a decision"); return }
        #expect(decided.first?.excludedReason == .groupExcluded)
        #expect(decided.first?.currency == "USD")
    }

    @Test("closed volume: VolumeClosedExt (1e-8 lot), else VolumeClosed (1e-4 lot); absent when neither is sent; part of the content only when present")
    func closedVolume() throws {
        let plain = try Self.fact(Self.deal(["Entry": "1"]))
        #expect(plain.closedLots == nil)
        let ext = try Self.fact(Self.deal(["Entry": "2", "VolumeClosedExt": "50000000", "VolumeClosed": "1"]))
        #expect(ext.closedLots == ExactDecimal(parsing: "0.5"))
        let legacy = try Self.fact(Self.deal(["Entry": "2", "VolumeClosed": "2500"]))
        #expect(legacy.closedLots == ExactDecimal(parsing: "0.25"))
        #expect(ext.contentHash != plain.contentHash)
        guard case .rejected(let rejection) = Self.normalizer.normalize(Self.deal(["VolumeClosedExt": "half"])) else { Issue.record("expected a rejection"); return }
        #expect(rejection.field == "VolumeClosedExt")
    }

    @Test("the content hash is stable, ignores the revision and changes with any field")
    func contentHash() throws {
        var fact = try Self.fact(Self.deal())
        let hash = fact.contentHash
        #expect(hash.count == 64)
        // Golden value: if this changes, every stored fact would look modified after an upgrade.
        // (Python: sha256 of the canonical "name=value\n" lines, server=live-mt5 … comment=[tp 1.03512].)
        #expect(hash == "9bb263ab3729a53e2aa5cfcdd66bbf360451bdf0f324e15cfd884fa8654dba28")
        fact.revision = 2
        #expect(fact.contentHash == hash)
        #expect(fact.idempotencyKey == "live-mt5:700001:2")
        fact.comment = "edited by dealer"
        #expect(fact.contentHash != hash)
    }
}

@Suite("Normalizing MT4 trade records")
struct MT4NormalizerTests {
    static let normalizer = Normalizer(settings: ServerSettings(server: try! ServerID("live-mt4"), platform: .mt4, zone: ServerTimeZone("+02:00")!))

    static func trade(_ overrides: [String: String?] = [:]) -> MT4TradeRecord {
        var fields: [String: String] = [
            "order": "88001", "login": "5005", "symbol": "xauusd", "cmd": "0", "volume": "150", "open_time": "1735725600",
            "close_time": "1735732800", "open_price": "2620.50", "close_price": "2625.00", "commission": "-7.00",
            "storage": "-1.25", "profit": "675.00", "taxes": "-0.50", "reason": "0", "comment": "",
        ]
        for (name, value) in overrides { fields[name] = value }
        return MT4TradeRecord(fields: fields)
    }

    @Test("a closed trade yields an open leg and a close leg, each amount counted once")
    func closedTrade() throws {
        guard case .facts(let facts) = Self.normalizer.normalize(Self.trade()) else { Issue.record("expected facts"); return }
        try #require(facts.count == 2)
        let (open, close) = (facts[0], facts[1])
        #expect(open.identity.leg == .open && close.identity.leg == .close)
        #expect(open.idempotencyKey == "live-mt4:88001:open:1" && close.idempotencyKey == "live-mt4:88001:close:1")
        #expect(open.lots.description == "1.5" && close.lots.description == "1.5")
        #expect(open.side == .buy && open.entry == .in && close.side == .sell && close.entry == .out)
        #expect(open.price?.description == "2620.5" && close.price?.description == "2625")
        #expect(open.commission.description == "-7" && open.net.description == "-7")
        #expect(close.profit.description == "675" && close.swap.description == "-1.25" && close.taxes.description == "-0.5")
        #expect(close.net.description == "673.25")
        #expect(open.serverTimeMilliseconds == 1_735_725_600_000 && open.timeUTCMilliseconds == 1_735_718_400_000)
        #expect(close.symbolCanonical == "XAUUSD" && close.assetClass == .metal && close.contractSize?.description == "100")
    }

    @Test("an open trade yields only its open leg")
    func openTrade() {
        guard case .facts(let facts) = Self.normalizer.normalize(Self.trade(["close_time": "0", "profit": "12.00"])) else { Issue.record("expected facts"); return }
        #expect(facts.map(\.identity.leg) == [.open])
        #expect(facts.first?.profit.isZero == true, "floating profit is not realized")
    }

    @Test("balance and credit operations yield one fact with the amount from profit", arguments: [("6", FactKind.balance), ("7", .credit)])
    func balanceAndCredit(cmd: String, kind: FactKind) {
        let record = MT4TradeRecord(fields: ["order": "7", "login": "5005", "cmd": cmd, "open_time": "1735725600", "close_time": "1735725600", "profit": "-250.00", "comment": "Withdrawal"])
        guard case .facts(let facts) = Self.normalizer.normalize(record) else { Issue.record("expected facts"); return }
        #expect(facts.count == 1)
        #expect(facts.first?.kind == kind && facts.first?.identity.leg == nil && facts.first?.net.description == "-250")
    }

    @Test("pending orders are skipped, not rejected", arguments: ["2", "3", "4", "5"])
    func pendingOrders(cmd: String) {
        #expect(Self.normalizer.normalize(Self.trade(["cmd": cmd])) == .skipped(.pendingOrder))
    }

    @Test("lots are volume / 100", arguments: [("1", "0.01"), ("10", "0.1"), ("100", "1"), ("12345", "123.45")])
    func lots(volume: String, lots: String) {
        guard case .facts(let facts) = Self.normalizer.normalize(Self.trade(["volume": volume])) else { Issue.record("expected facts"); return }
        #expect(facts.first?.lots.description == lots)
    }

    @Test("malformed MT4 records are rejected", arguments: [("order", nil as String?), ("login", "x"), ("cmd", nil), ("volume", "1.5"), ("open_time", nil), ("profit", "12,00")])
    func rejections(field: String, value: String?) {
        guard case .rejected(let rejection) = Self.normalizer.normalize(Self.trade([field: value])) else {
            Issue.record("expected a rejection for \(field)")
            return
        }
        #expect(rejection.field == field)
    }
}
