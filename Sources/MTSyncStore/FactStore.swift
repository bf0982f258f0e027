import Foundation
import MTSyncCore

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
        try store(batch, staged: nil, on: connection).outcome
    }

    /// Runs the whole page inside the caller's transaction, with the plan `staged` made before it if what the
    /// transaction reads still calls for it (`StagedPage`); returns what it read, for the next page's plan.
    public static func store(_ batch: PageBatch, staged: StagedPage?, on connection: isolated PostgresConnection) throws -> (outcome: PageOutcome, readings: PageReadings) {
        var outcome = PageOutcome()
        var readings = PageReadings()
        try prepareStaging(on: connection)
        let server = batch.serverID.rawValue
        try requireServer(server, on: connection)
        if let job = batch.backfillJobID {
            // Transaction-local: the outbox's default tags this page's events with the job, and nothing after it.
            try connection.query("SELECT set_config('mtsync.backfill_job', \(String(job)), true)", name: "tag backfill events")
        }

        // Facts outside the fact table's partitions are quarantined, never stored: a page makes no partition
        // (migration 0012; one far-future row used to lock the whole table while its page made months up to it).
        if !batch.facts.isEmpty || !batch.undecided.isEmpty {
            readings.window = try FactPartitions.window(on: connection)
        }
        if !batch.undecided.isEmpty {
            // The account store's lock, shared: an account change of this server waits for the page (and is then
            // applied to its facts), or the page waits for it and decides with it — never a decision between.
            try AccountDecisions.lockShared(server: server, on: connection)
            readings.logins = Set(batch.undecided.map(\.login))
            readings.histories = try AccountDecisions.histories(server: server, logins: readings.logins, on: connection)
        }
        let plan = try plan(batch, staged: staged, window: readings.window, histories: readings.histories)
        let outside = plan.outside

        if plan.factRows.count > 0 {
            try connection.copyIn("COPY mtsync_staged_facts FROM STDIN", name: "stage facts") { writer in try writer.append(plan.factRows) }
            outcome = try merge(on: connection)
            outcome.unchanged = plan.factRows.count - outcome.inserted - outcome.updated - outcome.excluded
        }
        if !plan.held.isEmpty {
            outcome.pending = try PendingRecords.hold(plan.held, server: server, source: batch.source, on: connection)
        }
        if !plan.releasedRecords.isEmpty, try PendingRecords.any(server: server, on: connection) {
            outcome.released = try PendingRecords.release(plan.releasedRecords, server: server, on: connection)
        }

        if !batch.sources.isEmpty {
            try connection.copyIn("COPY mtsync_staged_sources FROM STDIN", name: "stage source records") { writer in
                try writer.append(plan.sourceRows)
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
        if outcome.inserted + outcome.updated + outcome.deleted + outcome.excluded > 0 {
            // Delivered at COMMIT (and not at all on ROLLBACK): a waiting relay sends the page's events at once
            // instead of after its idle interval.
            try connection.execute(script: "NOTIFY \(Outbox.notificationChannel)", name: "notify the relay")
        }
        return (outcome, readings)
    }

    /// A page belongs to a registered server: checked once per page, as a foreign key would per row (migration 0016
    /// dropped the per-row checks of `fact_identities` and `source_records`, ~5 µs each). FOR KEY SHARE, as the check
    /// took it: the row cannot go while the page is open.
    static func requireServer(_ server: String, on connection: isolated PostgresConnection) throws {
        let rows = try connection.query("SELECT 1 FROM servers WHERE server_id = \(server) FOR KEY SHARE", name: "check server")
        guard !rows.isEmpty else {
            throw StoreRefusal(code: .unknownServer, serverID: server, message: "no server of this id is registered: nothing of the page was stored (register it first: a sync does at its start)")
        }
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
}
