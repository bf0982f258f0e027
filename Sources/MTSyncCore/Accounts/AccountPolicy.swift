/// Why a record's facts wait instead of being sent or excluded: the account they belong to is not known well
/// enough to decide. They are held, shown in `mtsync status`, and decided as soon as the account arrives.
public enum PendingReason: String, Sendable, Hashable, Codable, CaseIterable {
    /// Neither the bridge nor the rules file has sent the login's account yet.
    case accountUnknown = "account_unknown"
    /// The account is known but has no group, and group filters are configured.
    case groupUnknown = "group_unknown"
}

/// What one raw record's facts become once their account is looked at.
public enum RecordDecision: Sendable, Hashable {
    /// The facts, each with its account currency and, when it must not reach the platform, its exclusion reason.
    case decided([TradingFact])
    /// Held until the account is known.
    case pending(PendingReason)
}

/// Decides every fact from the account it belongs to (design invariant 9): the server's filters (groups, logins)
/// applied to the account's group at the fact's time, the account's currency written on the fact, and a fact of an
/// account not known yet held rather than guessed about. The rules file's accounts, when it has them, win over
/// what the bridge said (an operator's override, shown by `check-config`).
public struct AccountPolicy: Sendable, Hashable {
    public var filter: AccountFilter
    /// The rules file's accounts: these logins are decided from here, whatever the bridge says.
    public var overrides: [UInt64: AccountInfo]

    public init(filter: AccountFilter = .none, overrides: [UInt64: AccountInfo] = [:]) {
        self.filter = filter
        self.overrides = overrides
    }

    /// The policy of a server's settings.
    public init(settings: ServerSettings) {
        self.init(filter: settings.filter, overrides: settings.accounts)
    }

    /// Decides the facts of one raw record (one MT5 deal, or the one or two legs of an MT4 record) of `login`, whose
    /// account history is `history` (nil: the bridge never sent the account). A record is held whole: if any of
    /// its facts cannot be decided, none is stored as decided.
    public func decide(_ facts: [TradingFact], login: UInt64, history: AccountHistory?) -> RecordDecision {
        var decided: [TradingFact] = []
        decided.reserveCapacity(facts.count)
        for var fact in facts {
            switch disposition(login: login, atUTCMilliseconds: fact.timeUTCMilliseconds, history: history) {
            case .pending(let reason):
                return .pending(reason)
            case .decided(let state, let excluded):
                fact.currency = state?.currency
                fact.excludedReason = excluded
                decided.append(fact)
            }
        }
        return .decided(decided)
    }

    /// How a fact of `login` at `milliseconds` (UTC) is decided: the account state it is decided by (nil when sent
    /// without one, under `unknown_group: include`) and its exclusion reason (nil: it is sent); or held.
    public enum Disposition: Sendable, Hashable {
        case decided(AccountState?, excluded: SkipReason?)
        case pending(PendingReason)
    }

    public func disposition(login: UInt64, atUTCMilliseconds milliseconds: Int64, history: AccountHistory?) -> Disposition {
        let state = overrides[login].map { AccountState(group: $0.group, currency: $0.currency) } ?? history?.state(atUTCMilliseconds: milliseconds)
        if let excluded = filter.loginVerdict(login: login) { return .decided(state, excluded: excluded) }
        guard let state else {
            return filter.unknownGroup == .include ? .decided(nil, excluded: nil) : .pending(.accountUnknown)
        }
        guard filter.hasGroupMasks else { return .decided(state, excluded: nil) }
        guard let group = state.group, !group.isEmpty else {
            return filter.unknownGroup == .include ? .decided(state, excluded: nil) : .pending(.groupUnknown)
        }
        if case .excluded(let reason) = filter.verdict(login: login, group: group) { return .decided(state, excluded: reason) }
        return .decided(state, excluded: nil)
    }
}
