/// One trading account of the simulated server, as its bridge serves it under `accounts`
/// (bridge-protocol/README.md §4.4).
///
/// The accounts follow fixed rules of the login's index (`login - SimulatedDataset.firstLogin`), so the MT4 and
/// MT5 datasets, which both number their logins from `firstLogin`, hold the same accounts: customer `C-100001`
/// has a login on each server, as a broker's customer with an MT4 and an MT5 account does.
public struct SimulatedAccount: Sendable, Hashable, Codable {
    public var login: UInt64
    /// The MT group: `demo\forex` (every fifth index), `real\cent` (of the rest, every eleventh), else
    /// `real\group0` … `real\group2`.
    public var group: String
    /// The deposit currency: `USC` for cent accounts (balances in US cents), else `EUR` (every seventh) or `USD`.
    public var currency: String
    /// The broker's customer id (`C-<login>`); nil for an account the broker has not mapped to a customer (every
    /// thirteenth), whose record the bridge sends without `client_id`.
    public var clientID: String?

    public init(login: UInt64, group: String, currency: String, clientID: String?) {
        self.login = login
        self.group = group
        self.currency = currency
        self.clientID = clientID
    }

    /// The account at `index` (0 is `SimulatedDataset.firstLogin`).
    public init(index: Int) {
        let login = SimulatedDataset.firstLogin + UInt64(index)
        let isDemo = index % 5 == 4
        let isCent = !isDemo && index % 11 == 10
        self.login = login
        group = isDemo ? "demo\\forex" : (isCent ? "real\\cent" : "real\\group\(index % 3)")
        currency = isCent ? "USC" : (index % 7 == 6 ? "EUR" : "USD")
        clientID = index % 13 == 12 ? nil : "C-\(login)"
    }

    public var isDemo: Bool { group.hasPrefix("demo\\") }

    enum CodingKeys: String, CodingKey {
        case login, group, currency
        case clientID = "client_id"
    }
}
