/// Everything normalization needs to know about one trade server. A plain value: build it once from the
/// configuration (and the accounts and symbols streams), hand it to a `Normalizer`.
public struct ServerSettings: Sendable {
    public var server: ServerID
    public var platform: Platform
    public var zone: ServerTimeZone
    public var ambiguousTime: ServerTimeZone.AmbiguousTimePolicy
    public var symbols: SymbolRules
    public var filter: AccountFilter
    /// Login → group and currency from the rules file: these override what the bridge says (`AccountPolicy`).
    public var accounts: [UInt64: AccountInfo]
    /// The server's own symbols (its `symbols` stream or drop file), by broker name.
    public var serverSymbols: [String: ServerSymbol] = [:]
    /// Which record times are stored (`plausible_times`); the window itself is built per page from the server's
    /// clock and handed to the normalizer.
    public var plausibleTimes: PlausibleTimeRule = .standard

    public init(
        server: ServerID, platform: Platform, zone: ServerTimeZone, ambiguousTime: ServerTimeZone.AmbiguousTimePolicy = .earlier,
        symbols: SymbolRules = .standard, filter: AccountFilter = .none, accounts: [UInt64: AccountInfo] = [:]
    ) {
        self.server = server
        self.platform = platform
        self.zone = zone
        self.ambiguousTime = ambiguousTime
        self.symbols = symbols
        self.filter = filter
        self.accounts = accounts
    }
}
