import Foundation
import MTSyncCore

/// The steps of storing a page inside its transaction (`FactStore.store`), in the order it takes them.
extension FactStore {
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

    /// Decides each record's facts by its account (`policy`, `histories`): the decided facts and their records, and
    /// the records held with the reason.
    static func decide(
        _ undecided: [UndecidedRecord], policy: AccountPolicy, histories: [UInt64: AccountHistory]
    ) -> (facts: [TradingFact], records: [UndecidedRecord], held: [(record: UndecidedRecord, reason: PendingReason)]) {
        var facts: [TradingFact] = [], records: [UndecidedRecord] = [], held: [(record: UndecidedRecord, reason: PendingReason)] = []
        facts.reserveCapacity(undecided.count)
        for record in undecided {
            switch policy.decide(record.facts, login: record.login, history: histories[record.login]) {
            case .decided(let decided):
                facts += decided
                records.append(record)
            case .pending(let reason):
                held.append((record, reason))
            }
        }
        return (facts, records, held)
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
        writer.append(utcMilliseconds: fact.timeUTCMilliseconds)
        writer.append(fact.serverTimeMilliseconds)
        writer.append(fact.zone)
        writer.append(fact.symbol)
        writer.append(fact.symbolCanonical)
        writer.append(fact.assetClass?.rawValue)
        writer.append(fact.contractSize)
        writer.append(fact.lots)
        writer.append(fact.price)
        writer.append(fact.profit)
        writer.append(fact.swap)
        writer.append(fact.commission)
        writer.append(fact.fee)
        writer.append(fact.taxes)
        writer.append(fact.net)
        writer.append(fact.technical ? "t" : "f")
        writer.append(fact.currency)
        writer.append(fact.order.map { Int64(bitPattern: $0) })
        writer.append(fact.position.map { Int64(bitPattern: $0) })
        writer.append(fact.reason)
        writer.append(fact.comment)
        let contentHash = fact.contentHash
        writer.append("\\x" + contentHash)
        writer.append(fact.identity.key)
        writer.append(fact.excludedReason?.rawValue)
        writer.append(fact.closedLots)
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
    /// The page's undecided records are decided as `store` decides them, by `histories` (the accounts the store
    /// would read; a held record stages nothing). A value the COPY text format cannot carry fails as it would in `store`.
    public static func stagingText(of batch: PageBatch, histories: [UInt64: AccountHistory]) throws(PostgresError) -> (facts: [UInt8], sources: [UInt8]) {
        let plan = try plan(batch, window: nil, histories: histories)
        return (plan.factRows.bytes, plan.sourceRows.bytes)
    }

    /// `2025-01-01 10:00:00.123+00` for a UTC millisecond count.
    static func timestampText(milliseconds: Int64) -> String {
        ServerTimeText.iso8601(milliseconds: milliseconds) + "+00"
    }

    static func merge(on connection: isolated PostgresConnection) throws -> PageOutcome {
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

    /// The outbox payload: the fact in the JSON shape of `mtsync normalize` — `TradingFact+JSON.swift` is the one
    /// source of truth, and `FactJSONParityTests` holds this rendering to it value by value (nulls left out) —
    /// built here from the stored row, set-based in the page's transaction, so it carries the revision and
    /// idempotency key the merge assigned. Beyond the fact: `deleted`, `excluded` (a fact that stopped counting, its
    /// account's decision excluded it after it was sent, travels as `fact.deleted` with the reason) and an MT4 open
    /// leg's `closed_lots`. A field added to the fact is added in both places, or that test fails.
    public static let payloadSQL = """
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

    static func advanceCursor(server: String, stream: SyncStream, to position: CursorPosition, stored: Int, on connection: isolated PostgresConnection) throws(PostgresError) {
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
