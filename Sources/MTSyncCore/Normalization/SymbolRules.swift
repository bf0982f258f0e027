import Foundation
import Synchronization

/// What kind of instrument a symbol is.
public enum AssetClass: String, Sendable, Hashable, Codable, CaseIterable {
    case fx, metal, index, energy, crypto, stock, commodity, bond, other
}

/// What mtsync knows about a canonical symbol.
public struct SymbolInfo: Sendable, Hashable, Codable {
    public var assetClass: AssetClass
    /// Units per lot. Broker-specific for everything but FX: MT5's deal `ContractSize` always wins, and a
    /// server's overrides win over these defaults.
    public var contractSize: ExactDecimal?

    public init(assetClass: AssetClass, contractSize: ExactDecimal?) {
        self.assetClass = assetClass
        self.contractSize = contractSize
    }
}

/// How one server's symbol names map to canonical symbols.
///
/// Order: the explicit map first (exact name, then upper-cased), seeded from the bridge's symbol list or the
/// rules file; then the upper-cased name itself if it is a known base symbol; then prefix and suffix
/// decorations, **only where stripping them yields a known base symbol**. Blind stripping breaks real names
/// (a share CFD ending in M or C), so an unknown name is kept, upper-cased, as its own canonical symbol.
public struct SymbolRules: Sendable {
    /// Broker name → canonical name (e.g. `GOLD.x` → `XAUUSD`), consulted first.
    public let explicitMap: [String: String]
    /// Decorations a broker adds, compared upper-cased, longest first.
    public let prefixes: [String]
    public let suffixes: [String]
    /// Canonical symbol → info; defaults plus server overrides.
    public let table: [String: SymbolInfo]
    /// A server trades a few hundred symbols but millions of deals: each raw name is resolved once.
    /// (The rules are immutable, so the cache can never go stale.)
    private let cache = ResolvedSymbolCache()

    /// The decorations the default rule set strips from known base symbols.
    public static let defaultPrefixes = ["#", ".", "_"]
    public static let defaultSuffixes = [
        ".M", ".PRO", ".RAW", ".ECN", "-ECN", "_ECN", ".STD", "-STD", ".STP", ".A", ".B", ".R", ".C", ".I", ".X",
        ".F", ".SB", "_SB", ".CASH", ".MINI", "MINI", "PRO", "ECN", "#", "+", "!", "_I", "M", "C", "I", "R",
    ]
    public static let defaultAliases = ["GOLD": "XAUUSD", "SILVER": "XAGUSD"]

    public init(explicitMap: [String: String] = Self.defaultAliases, prefixes: [String] = Self.defaultPrefixes, suffixes: [String] = Self.defaultSuffixes, table: [String: SymbolInfo] = DefaultSymbolTable.symbols) {
        self.explicitMap = explicitMap
        self.prefixes = prefixes.map { $0.uppercased() }.sorted { $0.count > $1.count }
        self.suffixes = suffixes.map { $0.uppercased() }.sorted { $0.count > $1.count }
        self.table = table
    }

    /// The default rule set, used when a server configures none.
    public static let standard = SymbolRules()

    /// Canonical symbol and its info for a broker's symbol name, memoized.
    public func resolve(_ raw: String) -> (canonical: String?, info: SymbolInfo?) {
        if let cached = cache.lookup(raw) { return cached }
        let canonical = canonical(raw)
        let resolved = (canonical, canonical.flatMap { info(forCanonical: $0) })
        cache.store(raw, resolved)
        return resolved
    }

    public func info(forCanonical symbol: String) -> SymbolInfo? {
        table[symbol] ?? DefaultSymbolTable.currencyPair(symbol)
    }

    public func isKnownBase(_ symbol: String) -> Bool {
        info(forCanonical: symbol) != nil
    }

    /// The canonical symbol for a broker's symbol name; nil for an empty name (balance operations).
    public func canonical(_ raw: String) -> String? {
        let trimmed = raw.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        if let mapped = explicitMap[trimmed] { return mapped }
        let upper = trimmed.uppercased()
        if let mapped = explicitMap[upper] { return mapped }
        if isKnownBase(upper) { return upper }
        for prefix in prefixes where upper.hasPrefix(prefix) && upper.count > prefix.count {
            let rest = String(upper.dropFirst(prefix.count))
            if isKnownBase(rest) { return rest }
            if let stripped = strippedSuffix(rest) { return stripped }
        }
        if let stripped = strippedSuffix(upper) { return stripped }
        return upper
    }

    private func strippedSuffix(_ upper: String) -> String? {
        for suffix in suffixes where upper.hasSuffix(suffix) && upper.count > suffix.count {
            let rest = String(upper.dropLast(suffix.count))
            if isKnownBase(rest) { return rest }
            if let mapped = explicitMap[rest] { return mapped }
        }
        return nil
    }
}

/// Raw symbol → resolution, shared by copies of one `SymbolRules`. Bounded, so a stream of garbage names
/// cannot grow it without limit (past the bound names are simply resolved each time).
private final class ResolvedSymbolCache: Sendable {
    static let capacity = 50_000
    private let entries = Mutex<[String: (canonical: String?, info: SymbolInfo?)]>([:])

    func lookup(_ raw: String) -> (canonical: String?, info: SymbolInfo?)? {
        entries.withLock { $0[raw] }
    }

    func store(_ raw: String, _ resolved: (canonical: String?, info: SymbolInfo?)) {
        entries.withLock { entries in
            if entries.count < Self.capacity { entries[raw] = resolved }
        }
    }
}

/// Typical instruments and contract sizes. Only FX is standard across brokers (100 000 base units per lot);
/// metals follow the common 100 oz gold / 5 000 oz silver convention; indices, energies and crypto vary by
/// broker, so their defaults are the most common value and should be overridden per server where they differ.
/// Sources: ../shared/research/metatrader-domain.md §4.2 (broker contract specifications cited there).
public enum DefaultSymbolTable {
    /// ISO 4217 codes that form FX pairs (any two of them, 6 letters, e.g. EURUSD, USDTRY).
    static let currencies: Set<String> = [
        "USD", "EUR", "GBP", "JPY", "CHF", "AUD", "NZD", "CAD", "SEK", "NOK", "DKK", "PLN", "HUF", "CZK", "TRY",
        "ZAR", "MXN", "SGD", "HKD", "CNH", "CNY", "RUB", "ILS", "THB", "INR", "KRW", "BRL", "RON", "ISK",
    ]

    static let fxContractSize = ExactDecimal(100_000)

    static func currencyPair(_ symbol: String) -> SymbolInfo? {
        guard symbol.utf8.count == 6 else { return nil }
        let base = String(symbol.prefix(3)), quote = String(symbol.suffix(3))
        guard base != quote, currencies.contains(base), currencies.contains(quote) else { return nil }
        return SymbolInfo(assetClass: .fx, contractSize: fxContractSize)
    }

    public static let symbols: [String: SymbolInfo] = {
        var table: [String: SymbolInfo] = [:]
        func add(_ names: [String], _ assetClass: AssetClass, _ contractSize: Int64?) {
            for name in names { table[name] = SymbolInfo(assetClass: assetClass, contractSize: contractSize.map(ExactDecimal.init)) }
        }
        add(["XAUUSD", "XAUEUR", "XAUGBP", "XAUAUD", "XAUCHF", "XAUJPY", "XPTUSD", "XPDUSD"], .metal, 100)
        add(["XAGUSD", "XAGEUR"], .metal, 5_000)
        add(["US30", "US500", "US100", "NAS100", "SPX500", "DJ30", "USTEC", "GER40", "DE40", "GER30", "UK100",
             "FRA40", "EU50", "ESTX50", "JP225", "JPN225", "AUS200", "HK50", "ES35", "SPA35", "IT40", "CHINA50", "US2000"], .index, 1)
        add(["XTIUSD", "XBRUSD", "USOIL", "UKOIL", "WTI", "BRENT"], .energy, 1_000)
        add(["XNGUSD", "NGAS", "NATGAS"], .energy, 10_000)
        add(["BTCUSD", "ETHUSD", "LTCUSD", "XRPUSD", "BCHUSD", "SOLUSD", "ADAUSD", "DOGEUSD", "DOTUSD", "BNBUSD",
             "BTCEUR", "ETHEUR", "BTCJPY", "ETHBTC"], .crypto, 1)
        return table
    }()
}
