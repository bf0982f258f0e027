/// Which MetaTrader generation a trade server runs. The two differ in record shape (MT5 deals vs MT4 trade
/// records), enum numbering and volume units, so nearly every rule downstream switches on it.
public enum Platform: String, Sendable, Hashable, Codable, CaseIterable {
    case mt4
    case mt5
}
