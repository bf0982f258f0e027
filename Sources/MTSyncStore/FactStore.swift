import Foundation
import MTSyncCore

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

/// Everything one page of a bridge stream changes, stored in one transaction (`FactStore.store`).
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

/// The store path of the sync engine: one page of facts in, in one transaction (design invariants 1–3):
///
/// 0. a fact outside the fact table's monthly partitions is quarantined, not stored (`FactPartitions.Window`);
/// 1. COPY the page's facts into a session-local staging table;
/// 2. one set-based merge into `fact_identities`: a new identity is inserted at revision 1, an identity whose
///    content hash is unchanged is left alone, a changed one gets revision + 1 (a deleted one comes back);
/// 3. the current revision of each inserted or changed fact replaces its row in `trading_facts`, and each gets
///    one outbox event (`fact.created` / `fact.updated`) keyed `server:ticket[:leg]:revision`;
/// 4. source records, quarantine entries and deletions (`fact.deleted` events) in the same transaction;
/// 5. the cursor moves to `max(old, new)` — never back, never on its own.
///
/// Nothing here commits: the caller runs it inside `PostgresConnection.transaction`, so a crash anywhere loses
/// the whole page and the cursor with it, and the page is simply read again.
public enum FactStore {
    /// Runs the whole page inside the caller's transaction.
    @discardableResult
    public static func store(_ batch: PageBatch, on connection: isolated PostgresConnection) throws -> PageOutcome {
        var outcome = PageOutcome()
        try prepareStaging(on: connection)
        let server = batch.serverID.rawValue
        if let job = batch.backfillJobID {
            // Transaction-local: the outbox's default tags this page's events with the job, and nothing after it.
            try connection.query("SELECT set_config('mtsync.backfill_job', \(String(job)), true)", name: "tag backfill events")
        }

        // Facts outside the fact table's partitions are quarantined, never stored: a page makes no partition
        // (migration 0012; one far-future row used to lock the whole table while its page made months up to it).
        var facts = batch.facts
        var undecided = batch.undecided
        var outside = OutsideRecords()
        if !facts.isEmpty || !undecided.isEmpty {
            let window = try FactPartitions.window(on: connection)
            undecided = try outside.take(undecided, window: window)
            facts = try outside.take(facts, window: window, stream: batch.stream, source: batch.source)
        }

        var held: [(record: UndecidedRecord, reason: PendingReason)] = []
        var decidedRecords: [UndecidedRecord] = []
        if !undecided.isEmpty {
            // The account store's lock, shared: an account change of this server waits for the page (and is then
            // applied to its facts), or the page waits for it and decides with it — never a decision between.
            try AccountDecisions.lockShared(server: server, on: connection)
            let histories = try AccountDecisions.histories(server: server, logins: Set(undecided.map(\.login)), on: connection)
            for record in undecided {
                switch batch.policy.decide(record.facts, login: record.login, history: histories[record.login]) {
                case .decided(let decided):
                    facts += decided
                    decidedRecords.append(record)
                case .pending(let reason):
                    held.append((record, reason))
                }
            }
        }

        let staged = uniqueFacts(facts)
        if !staged.isEmpty {
            try connection.copyIn("COPY mtsync_staged_facts FROM STDIN", name: "stage facts") { writer in
                for fact in staged { try stage(fact, into: &writer) }
            }
            outcome = try merge(on: connection)
            outcome.unchanged = staged.count - outcome.inserted - outcome.updated - outcome.excluded
        }
        if !held.isEmpty {
            outcome.pending = try PendingRecords.hold(held, server: server, source: batch.source, on: connection)
        }
        // A held record now outside the partitions is decided too: it goes to quarantine, no longer waits.
        decidedRecords += outside.records.map(\.record)
        if !decidedRecords.isEmpty {
            outcome.released = try PendingRecords.release(decidedRecords, server: server, on: connection)
        }

        if !batch.sources.isEmpty {
            let heldTickets = Set(held.filter { $0.record.stream == batch.stream }.map(\.record.ticket))
            let outsideTickets = Set(outside.records.filter { $0.record.stream == batch.stream }.map(\.record.ticket))
            try connection.copyIn("COPY mtsync_staged_sources FROM STDIN", name: "stage source records") { writer in
                for var source in batch.sources {
                    if source.outcome == .stored, heldTickets.contains(source.ticket) { source.outcome = .pending }
                    if source.outcome == .stored, outsideTickets.contains(source.ticket) { source.outcome = .quarantined }
                    try stage(source, into: &writer)
                }
            }
            try connection.query(PostgresQuery(sql: Statements.mergeSourceRecords, parameters: [server, batch.stream.rawValue]), name: "merge source records")
        }

        for entry in batch.quarantine + outside.facts {
            if try entry.insert(on: connection) { outcome.quarantined += 1 }
        }
        if !outside.records.isEmpty {
            outcome.quarantined += try outside.quarantineRecords(server: server, source: batch.source, on: connection)
        }

        if !batch.deletedTickets.isEmpty {
            outcome.deleted = try markDeleted(server: server, stream: batch.stream, tickets: batch.deletedTickets, on: connection)
        }

        if let cursor = batch.cursor {
            try advanceCursor(server: server, stream: batch.stream, to: cursor, stored: outcome.inserted + outcome.updated, on: connection)
        }
        if let sequence = batch.changeSequence {
            try connection.query("""
                INSERT INTO sync_cursors (server_id, stream, change_sequence, last_success_at)
                VALUES (\(server), 'changes', \(sequence), now())
                ON CONFLICT (server_id, stream) DO UPDATE
                   SET change_sequence = GREATEST(coalesce(sync_cursors.change_sequence, 0), EXCLUDED.change_sequence),
                       last_success_at = now(), updated_at = now()
                """, name: "advance change sequence")
        }
        return outcome
    }

    /// Registers (or updates) a server's row, which facts, cursors and leases reference.
    public static func register(serverID: ServerID, platform: Platform, zone: String, on connection: PostgresConnection) async throws(PostgresError) {
        try await connection.query("""
            INSERT INTO servers (server_id, platform, time_zone) VALUES (\(serverID.rawValue), \(platform.rawValue), \(zone))
            ON CONFLICT (server_id) DO UPDATE SET platform = EXCLUDED.platform, time_zone = EXCLUDED.time_zone, updated_at = now()
             WHERE (servers.platform, servers.time_zone) IS DISTINCT FROM (EXCLUDED.platform, EXCLUDED.time_zone)
            """, name: "register server")
    }

    /// The live cursor of a stream (`start` when the stream has never stored anything).
    public static func cursor(serverID: ServerID, stream: SyncStream, on connection: isolated PostgresConnection) throws(PostgresError) -> CursorPosition {
        let rows = try connection.query("""
            SELECT position_server_msc, position_ticket FROM sync_cursors WHERE server_id = \(serverID.rawValue) AND stream = \(stream.rawValue)
            """, name: "read cursor")
        guard let row = rows.first else { return .start }
        return CursorPosition(serverTimeMilliseconds: try row.decode(Int64.self, 0), ticket: UInt64(bitPattern: try row.decode(Int64.self, 1)))
    }

    /// The `changes` stream's sequence (0 when never followed).
    public static func changeSequence(serverID: ServerID, on connection: isolated PostgresConnection) throws(PostgresError) -> Int64 {
        let rows = try connection.query("""
            SELECT change_sequence FROM sync_cursors WHERE server_id = \(serverID.rawValue) AND stream = 'changes'
            """, name: "read change sequence")
        return try rows.first?.decode(Int64?.self, 0) ?? 0
    }

    /// Sets the `changes` stream's sequence back to 0 (follow the bridge's journal from its start): after the bridge
    /// said `changes_expired` and the gap was repaired by digest. Storing a change page only moves it forward.
    public static func restartChangeSequence(serverID: ServerID, on connection: isolated PostgresConnection) throws(PostgresError) {
        try connection.query("""
            UPDATE sync_cursors SET change_sequence = 0, updated_at = now() WHERE server_id = \(serverID.rawValue) AND stream = 'changes'
            """, name: "restart change sequence")
    }

    /// Records a failed attempt on a stream's cursor row (the position is untouched), for `status`.
    public static func recordError(serverID: ServerID, stream: SyncStream, message: String, on connection: PostgresConnection) async throws(PostgresError) {
        try await connection.query("""
            INSERT INTO sync_cursors (server_id, stream, last_error_at, last_error) VALUES (\(serverID.rawValue), \(stream.rawValue), now(), \(message))
            ON CONFLICT (server_id, stream) DO UPDATE SET last_error_at = now(), last_error = EXCLUDED.last_error, updated_at = now()
            """, name: "record sync error")
    }

    /// Records what a bridge said that was not believed (bridge-protocol anomalies): shown by `status` beside the
    /// last error, without making the server FAILING.
    public static func recordWarning(serverID: ServerID, stream: SyncStream, message: String, on connection: PostgresConnection) async throws(PostgresError) {
        try await connection.query("""
            INSERT INTO sync_cursors (server_id, stream, last_warning_at, last_warning) VALUES (\(serverID.rawValue), \(stream.rawValue), now(), \(message))
            ON CONFLICT (server_id, stream) DO UPDATE SET last_warning_at = now(), last_warning = EXCLUDED.last_warning, updated_at = now()
            """, name: "record bridge warning")
    }

    // MARK: - Steps

    /// Session-local staging tables: created once per connection (again after a reconnect, which starts a new
    /// session), empty when a page starts even if an earlier page of the same transaction used them.
    static func prepareStaging(on connection: isolated PostgresConnection) throws(PostgresError) {
        try connection.execute(script: Statements.prepareStaging, name: "prepare staging")
    }

    /// A page may carry the same identity twice (a record read again in the overlap): the last one wins, in the
    /// order the identities first appeared.
    static func uniqueFacts(_ facts: [TradingFact]) -> [TradingFact] {
        var position: [FactIdentity: Int] = [:]
        position.reserveCapacity(facts.count)
        var unique: [TradingFact] = []
        unique.reserveCapacity(facts.count)
        for fact in facts {
            if let index = position[fact.identity] {
                unique[index] = fact
            } else {
                position[fact.identity] = unique.count
                unique.append(fact)
            }
        }
        return unique
    }

    static func stage(_ fact: TradingFact, into writer: inout CopyInWriter) throws(PostgresError) {
        writer.append(fact.identity.server.rawValue)
        writer.append(fact.platform.rawValue)
        writer.append(Int64(bitPattern: fact.login))
        writer.append(Int64(bitPattern: fact.identity.ticket))
        writer.append(Int64(fact.identity.leg?.storedValue ?? 0))
        writer.append(fact.kind.rawValue)
        writer.append(fact.rawAction)
        writer.append(fact.side?.rawValue)
        writer.append(fact.entry?.rawValue)
        writer.append(FactStore.timestampText(milliseconds: fact.timeUTCMilliseconds))
        writer.append(fact.serverTimeMilliseconds)
        writer.append(fact.zone)
        writer.append(fact.symbol)
        writer.append(fact.symbolCanonical)
        writer.append(fact.assetClass?.rawValue)
        writer.append(fact.contractSize?.description)
        writer.append(fact.lots.description)
        writer.append(fact.price?.description)
        writer.append(fact.profit.description)
        writer.append(fact.swap.description)
        writer.append(fact.commission.description)
        writer.append(fact.fee.description)
        writer.append(fact.taxes.description)
        writer.append(fact.net.description)
        writer.append(fact.technical ? "t" : "f")
        writer.append(fact.currency)
        writer.append(fact.order.map { String(Int64(bitPattern: $0)) })
        writer.append(fact.position.map { String(Int64(bitPattern: $0)) })
        writer.append(fact.reason.map { String($0) })
        writer.append(fact.comment)
        writer.append("\\x" + fact.contentHash)
        writer.append(fact.identity.key)
        writer.append(fact.excludedReason?.rawValue)
        writer.append(fact.closedLots?.description)
        try writer.endRow()
    }

    static func stage(_ source: SourceRecord, into writer: inout CopyInWriter) throws(PostgresError) {
        writer.append(Int64(bitPattern: source.ticket))
        writer.append(source.serverTimeMilliseconds)
        writer.append(Int64(bitPattern: source.digestPart))
        writer.append(source.volume)
        writer.append(source.outcome.rawValue)
        try writer.endRow()
    }

    /// The COPY text (PostgreSQL's text format) that `store` streams into `mtsync_staged_facts` and
    /// `mtsync_staged_sources` for `batch`, byte for byte: for `mtsync-bench ceiling`, which loads the same rows
    /// with psql's `\copy` and runs `Statements` on them, to measure what the database alone can do.
    public static func stagingText(of batch: PageBatch) -> (facts: [UInt8], sources: [UInt8]) {
        var facts: [UInt8] = [], sources: [UInt8] = []
        // The sink never throws, so neither does the writer.
        var factWriter = CopyInWriter(flushThreshold: 1 << 20) { facts += $0 }
        for fact in uniqueFacts(batch.facts) { try! stage(fact, into: &factWriter) }
        try! factWriter.flush()
        var sourceWriter = CopyInWriter(flushThreshold: 1 << 20) { sources += $0 }
        for source in batch.sources { try! stage(source, into: &sourceWriter) }
        try! sourceWriter.flush()
        return (facts, sources)
    }

    /// `2025-01-01 10:00:00.123+00` for a UTC millisecond count.
    static func timestampText(milliseconds: Int64) -> String {
        TradingFact.iso8601(milliseconds: milliseconds) + "+00"
    }

    private static func merge(on connection: isolated PostgresConnection) throws -> PageOutcome {
        let merged = try connection.query(PostgresQuery(sql: Statements.mergeIdentities), name: "merge fact identities")
        var outcome = PageOutcome()
        guard try merged[0].decode(Int.self, 0) > 0 else { return outcome }
        if try merged[0].decode(Int.self, 1) > 0 {
            try connection.query(PostgresQuery(sql: Statements.removeReplacedRevisions), name: "remove replaced fact revisions")
        }
        let counts = try connection.query(PostgresQuery(sql: Statements.storeRevisions), name: "store fact revisions and outbox events")
        outcome.inserted = try counts[0].decode(Int.self, 0)
        outcome.updated = try counts[0].decode(Int.self, 1)
        outcome.excluded = try counts[0].decode(Int.self, 2)
        return outcome
    }

    /// The outbox payload: the fact in the JSON shape of `mtsync normalize` (TradingFact+JSON.swift), built from
    /// the stored row so it carries the revision and idempotency key the merge assigned. A fact that stopped counting
    /// (its account's decision excluded it after it was sent) travels as `fact.deleted` with `deleted: true` and the
    /// reason in `excluded`.
    static let payloadSQL = """
        jsonb_strip_nulls(jsonb_build_object(
            'server', server_id, 'platform', platform, 'login', login,
            'deal', CASE WHEN platform = 'mt5' THEN ticket END,
            'ticket', CASE WHEN platform = 'mt4' THEN ticket END,
            'leg', CASE WHEN platform = 'mt4' AND leg = 1 THEN 'open' WHEN platform = 'mt4' AND leg = 2 THEN 'close' END,
            'kind', kind, 'raw_action', raw_action, 'side', side, 'entry', entry,
            'time_utc', to_char(time_utc AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            'server_time', to_char(timestamp 'epoch' + server_time_msc * interval '1 millisecond', 'YYYY-MM-DD"T"HH24:MI:SS.MS'),
            'zone', zone, 'symbol', symbol, 'symbol_canonical', symbol_canonical, 'asset_class', asset_class,
            'contract_size', contract_size::text, 'lots', lots::text, 'price', price::text, 'profit', profit::text,
            'swap', swap::text, 'commission', commission::text, 'fee', fee::text, 'taxes', taxes::text, 'net', net::text,
            'technical', technical, 'currency', currency, 'order', order_ticket, 'position', position_ticket,
            'reason', reason, 'comment', comment, 'revision', revision, 'deleted', deleted OR excluded_reason IS NOT NULL,
            'excluded', excluded_reason, 'closed_lots', closed_lots::text,
            'content_hash', encode(content_hash, 'hex'), 'idempotency_key', idempotency_key))
        """

    /// Marks every leg of each ticket deleted (revision + 1, one `fact.deleted` event each) and forgets their
    /// source records, so reconcile no longer expects them.
    static func markDeleted(server: String, stream: SyncStream, tickets: [UInt64], on connection: isolated PostgresConnection) throws -> Int {
        let list = "{" + tickets.map { String(Int64(bitPattern: $0)) }.joined(separator: ",") + "}"
        // $1 the server, $2 the tickets; the payload expression is our own constant SQL, no value in it.
        let rows = try connection.query(PostgresQuery(sql: """
            WITH gone AS (
                UPDATE fact_identities SET revision = revision + 1, deleted_at = now(), updated_at = now()
                WHERE server_id = $1 AND ticket = ANY($2::bigint[]) AND deleted_at IS NULL
                RETURNING fact_id, revision
            ), marked AS (
                UPDATE trading_facts t SET deleted = true, revision = gone.revision,
                       idempotency_key = regexp_replace(t.idempotency_key, ':[0-9]+$', ':' || gone.revision)
                FROM gone WHERE t.fact_id = gone.fact_id
                RETURNING t.*
            ), events AS (
                INSERT INTO outbox (server_id, fact_id, event_kind, idempotency_key, payload)
                SELECT server_id, fact_id, 'fact.deleted', idempotency_key, \(payloadSQL) FROM marked WHERE excluded_reason IS NULL
                RETURNING 1
            ), counted AS (
                SELECT * FROM marked WHERE excluded_reason IS NULL
            ), \(Statements.marks(of: "counted"))
            SELECT count(*) FROM events
            """, parameters: [server, list]), name: "mark facts deleted")
        try connection.query("""
            DELETE FROM source_records WHERE server_id = \(server) AND stream = \(stream.rawValue) AND ticket = ANY(\(list)::bigint[])
            """, name: "forget deleted source records")
        try PendingRecords.forget(server: server, tickets: tickets, on: connection)
        return try rows[0].decode(Int.self, 0)
    }

    private static func advanceCursor(server: String, stream: SyncStream, to position: CursorPosition, stored: Int, on connection: isolated PostgresConnection) throws(PostgresError) {
        // (time, ticket) compared as a row: the cursor only ever moves forward (an empty or older page never
        // moves it back).
        try connection.query("""
            INSERT INTO sync_cursors AS c (server_id, stream, position_server_msc, position_ticket, records_stored, last_success_at)
            VALUES (\(server), \(stream.rawValue), \(position.serverTimeMilliseconds), \(Int64(bitPattern: position.ticket)), \(stored), now())
            ON CONFLICT (server_id, stream) DO UPDATE SET
                position_server_msc = CASE WHEN (EXCLUDED.position_server_msc, EXCLUDED.position_ticket) > (c.position_server_msc, c.position_ticket)
                                           THEN EXCLUDED.position_server_msc ELSE c.position_server_msc END,
                position_ticket = CASE WHEN (EXCLUDED.position_server_msc, EXCLUDED.position_ticket) > (c.position_server_msc, c.position_ticket)
                                       THEN EXCLUDED.position_ticket ELSE c.position_ticket END,
                records_stored = c.records_stored + EXCLUDED.records_stored,
                last_success_at = now(), updated_at = now()
            """, name: "advance cursor")
    }
}
