import Foundation

/// A server's normalization rules as an operator writes them (the `--rules` file of `mtsync normalize`, and
/// the per-server section of the configuration file). Every part is optional; what is left out keeps the
/// defaults. Keys are snake_case:
///
/// ```json
/// {
///   "ambiguous_time": "earlier",
///   "symbols": {
///     "map": { "GOLD.x": "XAUUSD" },
///     "suffixes": [".x"], "prefixes": [],
///     "default_decorations": true,
///     "table": { "US30": { "asset_class": "index", "contract_size": "10" } }
///   },
///   "filters": {
///     "groups": ["real\\*", "!real\\test*"],
///     "include_logins": [], "exclude_logins": [1000, "90000-90999"],
///     "unknown_group": "hold"
///   },
///   "accounts": { "1001": { "group": "real\\A", "currency": "USD" } }
/// }
/// ```
public struct NormalizationRules: Sendable, Codable, Equatable {
    public struct Symbols: Sendable, Codable, Equatable {
        /// Broker symbol → canonical symbol; consulted first, exact name then upper-cased.
        public var map: [String: String]?
        public var suffixes: [String]?
        public var prefixes: [String]?
        /// Also strip the default decorations (`.m`, `.pro`, `#`, `.raw`, `-ECN`, …); default true.
        public var defaultDecorations: Bool?
        /// Canonical symbol → asset class and contract size, added to (and overriding) the defaults.
        public var table: [String: SymbolInfo]?

        public init(map: [String: String]? = nil, suffixes: [String]? = nil, prefixes: [String]? = nil, defaultDecorations: Bool? = nil, table: [String: SymbolInfo]? = nil) {
            self.map = map
            self.suffixes = suffixes
            self.prefixes = prefixes
            self.defaultDecorations = defaultDecorations
            self.table = table
        }

        enum CodingKeys: String, CodingKey {
            case map, suffixes, prefixes, table
            case defaultDecorations = "default_decorations"
        }
    }

    public struct Filters: Sendable, Codable, Equatable {
        /// MetaTrader group masks: `*` wildcard, `!` to exclude.
        public var groups: [String]?
        public var includeLogins: [LoginSelector]?
        public var excludeLogins: [LoginSelector]?
        public var unknownGroup: AccountFilter.UnknownGroup?

        public init(groups: [String]? = nil, includeLogins: [LoginSelector]? = nil, excludeLogins: [LoginSelector]? = nil, unknownGroup: AccountFilter.UnknownGroup? = nil) {
            self.groups = groups
            self.includeLogins = includeLogins
            self.excludeLogins = excludeLogins
            self.unknownGroup = unknownGroup
        }

        enum CodingKeys: String, CodingKey {
            case groups
            case includeLogins = "include_logins"
            case excludeLogins = "exclude_logins"
            case unknownGroup = "unknown_group"
        }
    }

    // Explicit keys, not a snake-case strategy: that strategy would also rewrite dictionary keys such as the
    // symbol name `EURUSD_i`.
    enum CodingKeys: String, CodingKey {
        case symbols, filters, accounts
        case ambiguousTime = "ambiguous_time"
    }

    public var ambiguousTime: ServerTimeZone.AmbiguousTimePolicy?
    public var symbols: Symbols?
    public var filters: Filters?
    /// Login (as text) → group and currency. In production the accounts stream provides these; here they let
    /// an operator try filters and currencies on sample records.
    public var accounts: [String: AccountInfo]?

    public init(ambiguousTime: ServerTimeZone.AmbiguousTimePolicy? = nil, symbols: Symbols? = nil, filters: Filters? = nil, accounts: [String: AccountInfo]? = nil) {
        self.ambiguousTime = ambiguousTime
        self.symbols = symbols
        self.filters = filters
        self.accounts = accounts
    }

    /// Applies the rules on top of `settings`. Throws `RulesError` naming the first bad entry.
    public func apply(to settings: inout ServerSettings) throws(RulesError) {
        if let ambiguousTime { settings.ambiguousTime = ambiguousTime }
        if let symbols {
            let useDefaults = symbols.defaultDecorations ?? true
            var table = DefaultSymbolTable.symbols
            for (name, info) in symbols.table ?? [:] { table[name.uppercased()] = info }
            var map = useDefaults ? SymbolRules.defaultAliases : [:]
            for (raw, canonical) in symbols.map ?? [:] {
                guard !canonical.trimmingCharacters(in: .whitespaces).isEmpty else { throw RulesError(path: "symbols.map.\(raw)", message: "the canonical symbol is empty") }
                map[raw] = canonical.uppercased()
            }
            settings.symbols = SymbolRules(
                explicitMap: map,
                prefixes: (useDefaults ? SymbolRules.defaultPrefixes : []) + (symbols.prefixes ?? []),
                suffixes: (useDefaults ? SymbolRules.defaultSuffixes : []) + (symbols.suffixes ?? []),
                table: table
            )
        }
        if let filters {
            settings.filter = AccountFilter(
                groupMasks: filters.groups ?? [],
                includeLogins: (filters.includeLogins ?? []).map(\.range),
                excludeLogins: (filters.excludeLogins ?? []).map(\.range),
                unknownGroup: filters.unknownGroup ?? .hold
            )
        }
        for (loginText, info) in accounts ?? [:] {
            guard let login = UInt64(loginText) else { throw RulesError(path: "accounts.\(loginText)", message: "a login must be an unsigned integer") }
            settings.accounts[login] = info
        }
    }
}

/// A login or an inclusive range of logins: `1001` or `"90000-90999"`.
public struct LoginSelector: Sendable, Codable, Equatable {
    public let range: ClosedRange<UInt64>

    public init(_ range: ClosedRange<UInt64>) { self.range = range }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let login = try? container.decode(UInt64.self) {
            range = login...login
            return
        }
        let text = try container.decode(String.self)
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        if parts.count == 1, let login = UInt64(parts[0]) {
            range = login...login
        } else if parts.count == 2, let low = UInt64(parts[0]), let high = UInt64(parts[1]), low <= high {
            range = low...high
        } else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(String(reflecting: text)) is neither a login nor a range like \"1000-1999\""))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if range.lowerBound == range.upperBound { try container.encode(range.lowerBound) } else { try container.encode("\(range.lowerBound)-\(range.upperBound)") }
    }
}

public struct RulesError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}

extension SymbolInfo {
    enum CodingKeys: String, CodingKey {
        case assetClass = "asset_class"
        case contractSize = "contract_size"
    }
}
