/// Cent accounts: brokers label their deposit currency with a cent code (`USC`: balances in US cents) or keep the
/// standard code and mark the account by its group only (../shared/research/metatrader-domain.md, symbols).
public enum CentCurrencies {
    /// Cent codes seen in practice and the currency one hundred of them make. Brokers with other codes configure
    /// theirs (`feed.cent.currencies`).
    public static let standard: [String: String] = ["USC": "USD", "EUC": "EUR"]
}
