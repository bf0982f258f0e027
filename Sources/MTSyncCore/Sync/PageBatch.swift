/// One raw record as the bridge served it, whatever became of it (migration 0003, `source_records`): what
/// reconcile compares with the bridge's per-bucket digests.
public struct SourceRecord: Sendable, Hashable {
    public enum Outcome: String, Sendable, Hashable {
        case stored, skipped, quarantined
        /// Held until its account is known (`pending_records`).
        case pending
    }

    public var ticket: UInt64
    /// The record's bucket time: MT5 `TimeMsc`, MT4 `close_time × 1000` (server time).
    public var serverTimeMilliseconds: Int64
    /// First 8 bytes of the SHA-256 of the record's canonical line (bridge-protocol/README.md §4.7).
    public var digestPart: UInt64
    /// `VolumeExt` (MT5) or `volume` (MT4), as the bridge sent it; what the digest's `volume` sums.
    public var volume: String
    public var outcome: Outcome

    public init(ticket: UInt64, serverTimeMilliseconds: Int64, digestPart: UInt64, volume: String, outcome: Outcome) {
        self.ticket = ticket
        self.serverTimeMilliseconds = serverTimeMilliseconds
        self.digestPart = digestPart
        self.volume = volume
        self.outcome = outcome
    }
}

/// One raw record of a page and the facts normalization made of it, not yet decided: `FactStore.store` decides them
/// from the record's account inside the page's transaction (`AccountPolicy`), or holds the record as pending.
public struct UndecidedRecord: Sendable {
    /// `deals`, `trades` or `openTrades`.
    public var stream: SyncStream
    public var ticket: UInt64
    public var login: UInt64
    public var serverTimeMilliseconds: Int64
    /// The record as received, kept while it is pending.
    public var raw: RawRecord
    public var facts: [TradingFact]

    public init(stream: SyncStream, ticket: UInt64, login: UInt64, serverTimeMilliseconds: Int64, raw: RawRecord, facts: [TradingFact]) {
        self.stream = stream
        self.ticket = ticket
        self.login = login
        self.serverTimeMilliseconds = serverTimeMilliseconds
        self.raw = raw
        self.facts = facts
    }
}

/// A held record read back from the store (`PendingRecords.due`), to be decided again.
public struct HeldRecord: Sendable {
    public var stream: SyncStream
    public var ticket: UInt64
    public var raw: RawRecord

    public init(stream: SyncStream, ticket: UInt64, raw: RawRecord) {
        self.stream = stream
        self.ticket = ticket
        self.raw = raw
    }
}

/// Everything one page of a bridge stream changes, stored in one transaction (`FactStore.store`, in Store): the
/// engine's batcher builds it from raw records without I/O.
public struct PageBatch: Sendable {
    public var serverID: ServerID
    public var stream: SyncStream
    /// Facts already decided (their `excludedReason` and currency set by the caller).
    public var facts: [TradingFact]
    /// Records whose facts the store decides from their accounts, with `policy`.
    public var undecided: [UndecidedRecord] = []
    /// How `undecided` records are decided: the server's filters and the rules file's accounts.
    public var policy = AccountPolicy()
    /// Where held records came from (`tcp`, `csv:<file>`).
    public var source = "tcp"
    public var sources: [SourceRecord]
    public var quarantine: [QuarantineEntry]
    /// Tickets the bridge deleted (all legs of each): marked deleted, one `fact.deleted` event each.
    public var deletedTickets: [UInt64]
    /// Where the live cursor moves (only forward); nil for backfill and reconcile, which never move it.
    public var cursor: CursorPosition?
    /// For the `changes` stream: the highest change sequence this page covers.
    public var changeSequence: Int64?
    /// The backfill job storing this page, if any: its outbox events are tagged with it (migration 0006) and
    /// travel in messages flagged `"backfill": true`.
    public var backfillJobID: Int64?

    public init(
        serverID: ServerID, stream: SyncStream, facts: [TradingFact] = [], sources: [SourceRecord] = [], quarantine: [QuarantineEntry] = [],
        deletedTickets: [UInt64] = [], cursor: CursorPosition? = nil, changeSequence: Int64? = nil, backfillJobID: Int64? = nil
    ) {
        self.backfillJobID = backfillJobID
        self.serverID = serverID
        self.stream = stream
        self.facts = facts
        self.sources = sources
        self.quarantine = quarantine
        self.deletedTickets = deletedTickets
        self.cursor = cursor
        self.changeSequence = changeSequence
    }
}

/// A position in a stream: `(server time ms, ticket)`, compared as a pair.
public struct CursorPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var serverTimeMilliseconds: Int64
    public var ticket: UInt64

    public init(serverTimeMilliseconds: Int64, ticket: UInt64) {
        self.serverTimeMilliseconds = serverTimeMilliseconds
        self.ticket = ticket
    }

    public static let start = CursorPosition(serverTimeMilliseconds: 0, ticket: 0)

    public static func < (lhs: CursorPosition, rhs: CursorPosition) -> Bool {
        (lhs.serverTimeMilliseconds, lhs.ticket) < (rhs.serverTimeMilliseconds, rhs.ticket)
    }

    public var description: String { "(\(serverTimeMilliseconds) ms, ticket \(ticket))" }
}

/// What a page changed.
public struct PageOutcome: Sendable, Hashable {
    /// Facts that count, new (`fact.created`) …
    public var inserted = 0
    /// … or with new content (`fact.updated`).
    public var updated = 0
    public var unchanged = 0
    public var deleted = 0
    public var quarantined = 0
    /// Facts stored new or changed but excluded by the account's decision (a demo group): never sent.
    public var excluded = 0
    /// Records held until their account is known.
    public var pending = 0
    /// Records held before and decided now (their account arrived).
    public var released = 0

    public init() {}

    /// Facts that produced an outbox event.
    public var events: Int { inserted + updated + deleted }

    public static func + (lhs: PageOutcome, rhs: PageOutcome) -> PageOutcome {
        var sum = lhs
        sum.inserted += rhs.inserted
        sum.updated += rhs.updated
        sum.unchanged += rhs.unchanged
        sum.deleted += rhs.deleted
        sum.quarantined += rhs.quarantined
        sum.excluded += rhs.excluded
        sum.pending += rhs.pending
        sum.released += rhs.released
        return sum
    }
}
