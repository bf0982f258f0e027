import MTSyncCore

/// What a page's transaction writes, worked out without I/O: which records fall outside the fact partitions, how
/// each record's facts are decided from its account, and the COPY text of the facts (with their content hashes) and
/// of the source records. `FactStore.store` makes it inside the transaction from what it read there, or takes one made
/// before the transaction (`StagedPage`) when the transaction reads the same accounts and window it was made with.
struct PagePlan: Sendable {
    var outside = OutsideRecords()
    var held: [(record: UndecidedRecord, reason: PendingReason)] = []
    /// Records decided here (their facts are in `factRows`), and held records now outside the partitions: both leave
    /// `pending_records` if they were there.
    var releasedRecords: [UndecidedRecord] = []
    /// `mtsync_staged_facts` rows, one per distinct identity.
    var factRows = CopyRows()
    /// `mtsync_staged_sources` rows.
    var sourceRows = CopyRows()

    /// The records and facts left out as outside the partitions, with why: a transaction's own window must leave out
    /// the same, with the same reasons, for a plan made before it to hold.
    var outsideSignature: [String] {
        outside.records.map { "\($0.record.stream.rawValue):\($0.record.ticket) \($0.reason)" } + outside.facts.map(\.reason)
    }
}

/// A page's plan made while the page before it was being stored (issue 23: hashing and COPY text were mtsync's
/// work inside the transaction, ~25 % of its time, while PostgreSQL waited), with the account histories and the
/// partition window it was decided by. The transaction reads both again under the accounts' shared lock and uses
/// the plan only if they are the same; otherwise it plans again from what it read. So a decision is always the one
/// the transaction's own reads call for, as if nothing had been prepared.
public struct StagedPage: Sendable {
    let plan: PagePlan
    let histories: [UInt64: AccountHistory]
}

/// What the store read in a page's transaction that a later page's `StagedPage` can be made from.
public struct PageReadings: Sendable {
    /// The logins whose histories were read (a login without any account version is among them, absent from `histories`).
    public var logins: Set<UInt64> = []
    public var histories: [UInt64: AccountHistory] = [:]
    public var window: FactPartitions.Window?

    public init() {}
}

extension FactStore {
    /// Plans `batch` from `histories` (the account histories of its undecided records' logins that the store has) and
    /// `window`.
    /// - Throws: `PostgresError` (`noPartition`) when a plausible fact needs a month past the partitions, or a value
    ///   the COPY text format cannot carry.
    static func plan(_ batch: PageBatch, window: FactPartitions.Window?, histories: [UInt64: AccountHistory]) throws(PostgresError) -> PagePlan {
        var plan = PagePlan()
        var facts = batch.facts
        var undecided = batch.undecided
        if let window {
            undecided = try plan.outside.take(undecided, window: window)
            facts = try plan.outside.take(facts, window: window, stream: batch.stream, source: batch.source)
        }
        if !undecided.isEmpty {
            let decisions = decide(undecided, policy: batch.policy, histories: histories)
            facts += decisions.facts
            plan.releasedRecords = decisions.records
            plan.held = decisions.held
        }
        // A held record now outside the partitions is decided too: it goes to quarantine, no longer waits.
        plan.releasedRecords += plan.outside.records.map(\.record)

        let staged = uniqueFacts(facts)
        plan.factRows = try CopyRows.render { writer throws(PostgresError) in
            for fact in staged { try stage(fact, into: &writer) }
        }
        if !batch.sources.isEmpty {
            let heldTickets = Set(plan.held.filter { $0.record.stream == batch.stream }.map(\.record.ticket))
            let outsideTickets = Set(plan.outside.records.filter { $0.record.stream == batch.stream }.map(\.record.ticket))
            plan.sourceRows = try CopyRows.render { writer throws(PostgresError) in
                for var source in batch.sources {
                    if source.outcome == .stored, heldTickets.contains(source.ticket) { source.outcome = .pending }
                    if source.outcome == .stored, outsideTickets.contains(source.ticket) { source.outcome = .quarantined }
                    try stage(source, into: &writer)
                }
            }
        }
        return plan
    }

    /// Plans `batch` before its transaction from what an earlier page's transaction read (`readings`): nil when
    /// that is not enough (a login of the page whose account was not read, no window yet) or planning failed; the
    /// transaction then plans by itself, as it would without this.
    public static func stagedPage(_ batch: PageBatch, readings: PageReadings) -> StagedPage? {
        guard let window = readings.window else { return nil }
        var histories: [UInt64: AccountHistory] = [:]
        for record in batch.undecided where histories[record.login] == nil {
            guard readings.logins.contains(record.login) else { return nil }
            if let history = readings.histories[record.login] { histories[record.login] = history }
        }
        guard let plan = try? plan(batch, window: window, histories: histories) else { return nil }
        return StagedPage(plan: plan, histories: histories)
    }

    /// `staged`'s plan when the transaction read the same histories and its window leaves out the same records for
    /// the same reasons; else a plan from what the transaction read.
    static func plan(_ batch: PageBatch, staged: StagedPage?, window: FactPartitions.Window?, histories: [UInt64: AccountHistory]) throws(PostgresError) -> PagePlan {
        if let staged, staged.histories == histories {
            var outside = OutsideRecords()
            if let window {
                _ = try outside.take(batch.undecided, window: window)
                _ = try outside.take(batch.facts, window: window, stream: batch.stream, source: batch.source)
            }
            if PagePlan(outside: outside).outsideSignature == staged.plan.outsideSignature { return staged.plan }
        }
        return try plan(batch, window: window, histories: histories)
    }
}
