import Foundation
import MTSyncCore
import Testing

@Suite("Symbols and account filters")
struct SymbolAndFilterTests {
    @Test("the default rules strip broker decorations only from known base symbols", arguments: [
        ("EURUSD", "EURUSD"), ("eurusd", "EURUSD"), ("EURUSD.pro", "EURUSD"), ("EURUSD.m", "EURUSD"), ("#EURUSD", "EURUSD"),
        ("EURUSD.raw", "EURUSD"), ("EURUSD.ecn", "EURUSD"), ("EURUSD-ECN", "EURUSD"), ("EURUSD.a", "EURUSD"),
        ("EURUSD+", "EURUSD"), ("EURUSD_i", "EURUSD"), ("XAUUSDm", "XAUUSD"), ("XAUUSDc", "XAUUSD"), ("US30.cash", "US30"),
        ("GOLD", "XAUUSD"), ("gold.pro", "XAUUSD"), ("USDTRY.r", "USDTRY"), ("BTCUSD#", "BTCUSD"),
        // Not known base symbols: kept whole (upper-cased), never cut into something else.
        ("AAPL.m", "AAPL.M"), ("TESLAM", "TESLAM"), ("EURUSDX", "EURUSDX"), ("XYZ", "XYZ"), ("  EURUSD ", "EURUSD"),
    ])
    func canonicalSymbols(raw: String, canonical: String) {
        #expect(SymbolRules.standard.canonical(raw) == canonical)
    }

    @Test("an empty symbol (balance operations) has no canonical symbol")
    func emptySymbol() {
        #expect(SymbolRules.standard.canonical("") == nil)
        #expect(SymbolRules.standard.canonical("   ") == nil)
    }

    @Test("asset class and contract size from the table", arguments: [
        ("EURUSD", AssetClass.fx, "100000" as String?), ("USDJPY", .fx, "100000"), ("XAUUSD", .metal, "100"),
        ("XAGUSD", .metal, "5000"), ("US30", .index, "1"), ("BTCUSD", .crypto, "1"), ("XTIUSD", .energy, "1000"),
    ])
    func symbolTable(symbol: String, assetClass: AssetClass, contractSize: String?) {
        let info = SymbolRules.standard.info(forCanonical: symbol)
        #expect(info?.assetClass == assetClass)
        #expect(info?.contractSize?.description == contractSize)
    }

    @Test("explicit rules come first, per-server suffixes apply to known bases only")
    func serverRules() throws {
        var settings = ServerSettings(server: try ServerID("s"), platform: .mt5, zone: ServerTimeZone("UTC")!)
        let rules = NormalizationRules(symbols: .init(map: ["DJ.x": "US30"], suffixes: [".x"], prefixes: nil, defaultDecorations: false, table: ["US30": SymbolInfo(assetClass: .index, contractSize: ExactDecimal(10))]))
        try rules.apply(to: &settings)
        #expect(settings.symbols.canonical("DJ.x") == "US30")
        #expect(settings.symbols.canonical("EURUSD.x") == "EURUSD")
        #expect(settings.symbols.canonical("EURUSD.pro") == "EURUSD.PRO", "default decorations were switched off")
        #expect(settings.symbols.info(forCanonical: "US30")?.contractSize == ExactDecimal(10))
    }

    @Test("MetaTrader group masks: * wildcard, ! excludes, case-insensitive", arguments: [
        ("real\\forex\\A", true), ("REAL\\Stocks", true), ("real\\test\\1", false), ("demo\\forex", false), ("contest", false),
    ])
    func groupMasks(group: String, passes: Bool) {
        let filter = AccountFilter(groupMasks: ["real\\*,!real\\test*"])
        #expect((filter.verdict(login: 1, group: group) == .pass) == passes)
    }

    @Test("login lists and ranges; exclusion wins")
    func logins() {
        let filter = AccountFilter(includeLogins: [1000...1999], excludeLogins: [1500...1500])
        #expect(filter.verdict(login: 1001, group: nil) == .pass)
        #expect(filter.verdict(login: 1500, group: nil) == .excluded(.loginExcluded))
        #expect(filter.verdict(login: 2000, group: nil) == .excluded(.loginNotIncluded))
    }

    @Test("an unknown group does not pass the group masks by default (the policy holds such facts); include lets it pass")
    func unknownGroup() {
        #expect(AccountFilter(groupMasks: ["real*"]).verdict(login: 1, group: nil) == .excluded(.groupUnknown))
        #expect(AccountFilter(groupMasks: ["real*"], unknownGroup: .include).verdict(login: 1, group: nil) == .pass)
    }

    @Test("unknown_group reads hold, include, and exclude (its former name) as hold", arguments: [("hold", AccountFilter.UnknownGroup.hold), ("exclude", .hold), ("include", .include)])
    func unknownGroupNames(text: String, policy: AccountFilter.UnknownGroup) throws {
        let filters = try JSONDecoder().decode(NormalizationRules.Filters.self, from: Data("{\"unknown_group\": \"\(text)\"}".utf8))
        #expect(filters.unknownGroup == policy)
    }
}
