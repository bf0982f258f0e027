import Foundation

/// What mtsync knows about a trading account from the bridge's accounts stream.
public struct AccountInfo: Sendable, Hashable, Codable {
    /// MetaTrader group path, e.g. `real\forex\A` or `demoforex`.
    public var group: String?
    /// Deposit currency, e.g. `USD`.
    public var currency: String?

    public init(group: String? = nil, currency: String? = nil) {
        self.group = group
        self.currency = currency
    }
}

/// Which accounts' facts a server sends on: account groups by MetaTrader mask, and logins.
///
/// Group masks use MetaTrader's syntax: a comma-separated list (or array) of patterns where `*` matches any
/// run of characters and a leading `!` excludes, e.g. `real\*,!real\test*`. Matching ignores case, as
/// MetaTrader's group names do. A group passes when it matches at least one including pattern (or there are
/// none) and no excluding pattern. Logins: `includeLogins` (when not empty) lists the only logins kept;
/// `excludeLogins` always wins. A fact that does not pass is counted as filtered, never quarantined.
public struct AccountFilter: Sendable, Hashable {
    /// What happens to the facts of an account mtsync cannot decide yet: the bridge has not sent it, or it has no
    /// group while group filters are configured.
    public enum UnknownGroup: String, Sendable, Hashable, Codable {
        /// Held as pending until the account arrives, then decided (default: never guess, never lose). `exclude`,
        /// its former name, reads as `hold`: it used to drop such facts for good.
        case hold
        /// Sent at once without the account (no currency, no group filter): for bridges that serve no accounts.
        case include

        public init(from decoder: any Decoder) throws {
            let text = try decoder.singleValueContainer().decode(String.self)
            switch text {
            case "hold", "exclude": self = .hold
            case "include": self = .include
            default:
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(String(reflecting: text)) is neither hold nor include"))
            }
        }
    }

    public var includeGroups: [String]
    public var excludeGroups: [String]
    public var includeLogins: [ClosedRange<UInt64>]
    public var excludeLogins: [ClosedRange<UInt64>]
    public var unknownGroup: UnknownGroup

    public init(groupMasks: [String] = [], includeLogins: [ClosedRange<UInt64>] = [], excludeLogins: [ClosedRange<UInt64>] = [], unknownGroup: UnknownGroup = .hold) {
        let patterns = groupMasks.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        includeGroups = patterns.filter { !$0.hasPrefix("!") }.map { $0.lowercased() }
        excludeGroups = patterns.filter { $0.hasPrefix("!") }.map { String($0.dropFirst()).lowercased() }
        self.includeLogins = includeLogins
        self.excludeLogins = excludeLogins
        self.unknownGroup = unknownGroup
    }

    /// Lets everything through.
    public static let none = AccountFilter()

    public enum Verdict: Sendable, Hashable {
        case pass
        case excluded(SkipReason)
    }

    /// Whether any group mask is configured (without one, the group decides nothing).
    public var hasGroupMasks: Bool { !includeGroups.isEmpty || !excludeGroups.isEmpty }

    /// The login lists alone: the reason a login is excluded whatever its group, or nil.
    public func loginVerdict(login: UInt64) -> SkipReason? {
        if excludeLogins.contains(where: { $0.contains(login) }) { return .loginExcluded }
        if !includeLogins.isEmpty, !includeLogins.contains(where: { $0.contains(login) }) { return .loginNotIncluded }
        return nil
    }

    /// Logins, then the group: `group` nil is an account whose group is not known, which passes only under
    /// `unknown_group: include` (`AccountPolicy` holds such facts instead of excluding them).
    public func verdict(login: UInt64, group: String?) -> Verdict {
        if let reason = loginVerdict(login: login) { return .excluded(reason) }
        guard hasGroupMasks else { return .pass }
        guard let group else { return unknownGroup == .include ? .pass : .excluded(.groupUnknown) }
        let name = group.lowercased()
        if excludeGroups.contains(where: { Self.matches(name, mask: $0) }) { return .excluded(.groupExcluded) }
        if !includeGroups.isEmpty, !includeGroups.contains(where: { Self.matches(name, mask: $0) }) { return .excluded(.groupNotIncluded) }
        return .pass
    }

    /// `*` matches any run of characters (including none); everything else matches itself.
    static func matches(_ text: String, mask: String) -> Bool {
        let text = Array(text.unicodeScalars), mask = Array(mask.unicodeScalars)
        var t = 0, m = 0
        var starMask = -1, starText = 0
        while t < text.count {
            if m < mask.count, mask[m] != "*", mask[m] == text[t] {
                t += 1
                m += 1
            } else if m < mask.count, mask[m] == "*" {
                starMask = m
                starText = t
                m += 1
            } else if starMask >= 0 {
                m = starMask + 1
                starText += 1
                t = starText
            } else {
                return false
            }
        }
        while m < mask.count, mask[m] == "*" { m += 1 }
        return m == mask.count
    }
}

/// Why a well-formed record's facts do not reach the platform: excluded by the server's filters (stored, counted
/// per reason, never sent) or, for `pendingOrder`, not a trade at all (nothing stored). Never quarantined.
public enum SkipReason: String, Sendable, Hashable, Codable, CaseIterable {
    case loginExcluded = "login_excluded"
    case loginNotIncluded = "login_not_included"
    case groupExcluded = "group_excluded"
    case groupNotIncluded = "group_not_included"
    case groupUnknown = "group_unknown"
    /// An MT4 pending order (buy/sell limit or stop) that has not become a trade: nothing was traded.
    case pendingOrder = "pending_order"
}
