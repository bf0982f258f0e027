import Foundation
import MTSyncCore

/// One outbox event as the relay claims it.
public struct OutboxEvent: Sendable, Hashable {
    /// The event as the relay hands it on (its payload the stored text, never re-encoded: as mtsync wrote it for
    /// a stored fact, as PostgreSQL printed the `jsonb` for events built in SQL; its login from the payload when asked, for FIFO
    /// groups; flagged backfill when a backfill job wrote it).
    public var event: IngestEvent
    /// Deliveries tried before this claim.
    public var attempts: Int
    /// The backfill job that wrote it (its facts and markers), nil for live events.
    public var backfillJobID: Int64? = nil

    public var eventID: Int64 { event.eventID }
}

/// An event the relay set aside (`dead_letters`, migration 0005), for `mtsync outbox list`.
public struct DeadLetter: Sendable, Hashable, Codable {
    public var deadLetterID: Int64
    public var eventID: Int64
    public var serverID: String
    public var idempotencyKey: String
    public var cause: String
    public var reason: String
    public var response: String?
    public var createdAtMilliseconds: Int64
}

/// The outbox from the relay's side (migrations 0001, 0005 and 0017): claim a server and read its pending events in
/// event order, mark them delivered after the ingest acknowledged them, schedule retries, dead-letter what the ingest
/// refuses, and the operators' retry and purge.
///
/// A claim is one short statement (the server's `relay_claims` row: who, until when; the events are only read);
/// no transaction stays open while messages travel. The acknowledged events are marked delivered in a transaction of their own, so a
/// failure in the bookkeeping of the others can never undo or delay that mark. A relay that dies after sending
/// and before marking leaves its claim to expire and the events go out again with the same keys: at least once.
public enum Outbox {
    /// The channel a page NOTIFYs when it wrote events (`FactStore.store`), which an idle relay waits on.
    public static let notificationChannel = "mtsync_outbox"

    /// Claims `serverID` for `owner` for `claimFor` (taking it when no other relay's claim on it is live, renewing it
    /// when it is this owner's), then reads up to `limit` of its deliverable events, oldest first: none when another
    /// relay holds the server. Events waiting for a retry are skipped, as is an event an older mtsync's relay
    /// claimed one by one (migration 0017) until that claim expires.
    /// `after`: only events with a higher id (a drain's rounds go forward; see `OutboxRelay.drain`).
    /// `withLogins`: read each event's login out of its payload (FIFO groups per login need it; nothing else does,
    /// and PostgreSQL parses a `json` payload to find it: about a third of the claim's time).
    ///
    /// One statement: the claim and the read commit together, and the events themselves are not written (migration
    /// 0017: a per-event claim stamp rewrote each ~1 KB row once more than the delivery mark does).
    /// `holderToken`: the key of a session-level advisory lock this relay holds on `connection` (`holdClaims`);
    /// another relay takes the server at once when nobody holds that lock any more (this relay's session ended),
    /// instead of after `claimFor` (migration 0019). Nil: the claim lasts until it expires.
    public static func claim(
        serverID: String, owner: String, holderToken: Int64? = nil, limit: Int, claimFor: Duration, after: Int64 = 0, withLogins: Bool = true,
        on connection: PostgresConnection
    ) async throws -> [OutboxEvent] {
        var after = after
        while true {
            let rows = try await connection.query(
                claimQuery(serverID: serverID, owner: owner, holderToken: holderToken, limit: limit, claimFor: claimFor, after: after, withLogins: withLogins),
                name: "claim a server's outbox events")
            guard let last = rows.last else { return [] }
            let (events, superseded) = try await events(of: rows, serverID: serverID, on: connection)
            // Superseded: the fact changed again before this event went out, and the newer revision's own event
            // (after it in the outbox) carries it; sending the old key with the new content would be a lie.
            try await markDelivered(superseded, on: connection)
            // A round whose events were all superseded claims on, so a drain does not end while events remain.
            if !events.isEmpty || rows.count < limit { return events }
            after = try last.decode(Int64.self, 0)
        }
    }

    /// Marks events delivered (the ingest acknowledged them): each leaves the outbox for the delivered log
    /// (`outbox_delivered`, migration 0018). Its own transaction: nothing else rides on it.
    public static func markDelivered(_ eventIDs: [Int64], on connection: PostgresConnection) async throws {
        guard !eventIDs.isEmpty else { return }
        try await connection.query(markDeliveredQuery(eventIDs), name: "mark outbox events delivered")
    }

    /// Makes `connection`'s session hold the advisory lock keyed `holderToken`, once (a reconnected session takes it
    /// again): what tells other relays this relay's claims are alive. One short statement, before a drain's first
    /// claim (`OutboxRelay`).
    public static func holdClaims(holderToken: Int64, on connection: PostgresConnection) async throws {
        try await connection.query("""
            SELECT pg_advisory_lock(p.token) FROM (SELECT \(holderToken)::bigint AS token) p
            WHERE NOT \(unsafeSQL: LeaseHolder.alive(token: "p.token", session: "pg_backend_pid()"))
            """, name: "hold relay claims")
    }

    /// The statement of `claim`, for `mtsync-bench`'s query plans too (the plan of this very text, not a copy).
    public static func claimQuery(
        serverID: String, owner: String, holderToken: Int64? = nil, limit: Int, claimFor: Duration, after: Int64, withLogins: Bool = true
    ) -> PostgresQuery {
        """
        WITH claim AS (
            INSERT INTO relay_claims AS c (server_id, claimed_by, claimed_until, holder_token)
            VALUES (\(serverID), \(owner), now() + make_interval(secs => \(String(claimFor.fractionalSeconds))::double precision), \(holderToken)::bigint)
            ON CONFLICT (server_id) DO UPDATE
               SET claimed_by = EXCLUDED.claimed_by, claimed_until = EXCLUDED.claimed_until, holder_token = EXCLUDED.holder_token,
                   claimed_since = CASE WHEN c.claimed_by = EXCLUDED.claimed_by THEN c.claimed_since ELSE now() END
             WHERE c.claimed_by = EXCLUDED.claimed_by OR c.claimed_until < now()
                OR (c.holder_token IS NOT NULL AND NOT \(unsafeSQL: LeaseHolder.alive(token: "c.holder_token")))
            RETURNING 1)
        SELECT o.event_id, o.event_kind, o.idempotency_key, \(unsafeSQL: withLogins ? "(o.payload ->> 'login')::bigint" : "NULL::bigint"),
               o.payload::text, o.attempts, o.backfill_job_id, o.fact_id, (extract(epoch FROM o.fact_time_utc) * 1000)::bigint
        FROM outbox o
        WHERE EXISTS (SELECT 1 FROM claim)
          AND o.server_id = \(serverID) AND o.event_id > \(after) AND o.delivered_at IS NULL AND o.parked_at IS NULL
          AND o.available_at <= now() AND (o.claimed_until IS NULL OR o.claimed_until < now())
        ORDER BY o.event_id LIMIT \(limit)
        """
    }

    /// The statement of `markDelivered`, for `mtsync-bench`'s query plans too. A delete and a narrow insert: an
    /// UPDATE of `delivered_at` wrote a new version of the whole ~1 KB row and a key entry for it (migration 0018).
    /// An event already gone (marked before, purged by an operator) is not logged twice.
    public static func markDeliveredQuery(_ eventIDs: [Int64]) -> PostgresQuery {
        """
        WITH delivered AS (
            DELETE FROM outbox WHERE event_id = ANY(\(idArray(eventIDs))::bigint[]) AND delivered_at IS NULL
            RETURNING event_id, server_id, fact_id, event_kind, idempotency_key, created_at, attempts, backfill_job_id)
        INSERT INTO outbox_delivered (event_id, server_id, fact_id, event_kind, idempotency_key, created_at, attempts, backfill_job_id)
        SELECT * FROM delivered
        """
    }

    /// One message's events that the ingest did not take: they are tried again after `delay`, unless they have
    /// now failed `maxAttempts` times — then they are parked and dead-lettered (cause `attempts`).
    /// - Returns: how many events were dead-lettered.
    @discardableResult
    public static func scheduleRetry(
        _ eventIDs: [Int64], reason: String, delay: Duration, maxAttempts: Int, on connection: PostgresConnection
    ) async throws -> Int {
        guard !eventIDs.isEmpty else { return 0 }
        return try await connection.transaction(name: "schedule outbox retry") { connection in
            try connection.query("""
                UPDATE outbox SET attempts = attempts + 1, last_error = \(reason), claimed_by = NULL, claimed_until = NULL,
                       available_at = now() + make_interval(secs => \(String(delay.fractionalSeconds))::double precision)
                WHERE event_id = ANY(\(idArray(eventIDs))::bigint[]) AND delivered_at IS NULL AND parked_at IS NULL
                """, name: "schedule outbox retry")
            let exhausted = try connection.query("""
                SELECT event_id FROM outbox WHERE event_id = ANY(\(idArray(eventIDs))::bigint[]) AND parked_at IS NULL
                  AND delivered_at IS NULL AND attempts >= \(maxAttempts)
                """, name: "find exhausted outbox events").map { try $0.decode(Int64.self, 0) }
            guard !exhausted.isEmpty else { return 0 }
            try park(exhausted, cause: "attempts", reason: "failed \(maxAttempts) times; the last error: \(reason)", response: nil, countAttempt: false, on: connection)
            return exhausted.count
        }
    }

    /// Events the ingest refused for good: parked and dead-lettered with the reason and its answer.
    public static func deadLetter(_ eventIDs: [Int64], reason: String, response: String?, on connection: PostgresConnection) async throws {
        guard !eventIDs.isEmpty else { return }
        try await connection.transaction(name: "dead-letter outbox events") { connection in
            try park(eventIDs, cause: "rejected", reason: reason, response: response, countAttempt: true, on: connection)
        }
    }

    /// Gives back this owner's server claims at once (a relay stopping cleanly), instead of letting them expire.
    public static func releaseClaims(owner: String, on connection: PostgresConnection) async throws {
        try await connection.query("""
            DELETE FROM relay_claims WHERE claimed_by = \(owner)
            """, name: "release relay claims")
    }

    /// The servers with events to deliver now, for the relay's round.
    public static func serversWithPendingEvents(on connection: PostgresConnection) async throws -> [String] {
        try await connection.query("""
            SELECT DISTINCT server_id FROM outbox WHERE delivered_at IS NULL AND parked_at IS NULL ORDER BY server_id
            """, name: "find servers with pending events").map { try $0.decode(String.self, 0) }
    }

    // MARK: - Retention

    /// Deletes the delivered log's entries (`outbox_delivered`, migration 0018) older than `olderThan`, then events
    /// an mtsync before 0018 marked delivered in the outbox itself, `batchSize` rows per statement, so the store
    /// keeps recent history instead of every event ever sent (a busy server sends a million a day). The facts stay
    /// in `trading_facts`; pending and parked events are never touched.
    /// `maximumBatches` bounds one call (the relay's passes must not hold up delivery); `finished` says whether it
    /// got to the end.
    public static func pruneDelivered(
        olderThan: Duration, batchSize: Int = 10_000, maximumBatches: Int? = nil, on connection: PostgresConnection
    ) async throws -> (deleted: Int, finished: Bool) {
        let cutoff = "now() - make_interval(secs => \(String(olderThan.fractionalSeconds))::double precision)"
        var deleted = 0
        var batches = 0
        // The log is appended in delivery order, so its BRIN index finds the old entries; by row address, since the
        // log has no key to name them by.
        while true {
            if let maximumBatches, batches >= maximumBatches { return (deleted, false) }
            batches += 1
            let gone = try await connection.query("""
                WITH gone AS (
                    DELETE FROM outbox_delivered WHERE ctid = ANY(ARRAY(
                        SELECT ctid FROM outbox_delivered WHERE delivered_at < \(unsafeSQL: cutoff) LIMIT \(batchSize)))
                    RETURNING 1)
                SELECT count(*)::int FROM gone
                """, name: "prune the delivered log")[0].decode(Int.self, 0)
            deleted += gone
            if gone < batchSize { break }
        }
        // Events marked in the outbox by an older mtsync: it walks the primary key upward from the oldest event, so
        // each run reads what it deletes plus the events it keeps (pending, parked, recent) once, and stops at the
        // first batch that reaches events created after the cut-off: nothing past it can have been delivered before
        // it. No index on `delivered_at` is needed.
        var after: Int64 = 0
        while true {
            if let maximumBatches, batches >= maximumBatches { return (deleted, false) }
            batches += 1
            let row = try await connection.query("""
                WITH cutoff AS (SELECT \(unsafeSQL: cutoff) AS at),
                batch AS (
                    SELECT event_id, created_at, delivered_at FROM outbox WHERE event_id > \(after) ORDER BY event_id LIMIT \(batchSize)),
                gone AS (
                    DELETE FROM outbox o USING batch b, cutoff c
                    WHERE o.event_id = b.event_id AND b.delivered_at < c.at
                    RETURNING o.event_id)
                SELECT (SELECT max(event_id) FROM batch), (SELECT count(*) FROM gone)::int,
                       coalesce((SELECT max(created_at) FROM batch) >= (SELECT at FROM cutoff), true)
                """, name: "prune delivered outbox events")[0]
            deleted += try row.decode(Int.self, 1)
            guard let last = try row.decode(Int64?.self, 0), !(try row.decode(Bool.self, 2)) else { return (deleted, true) }
            after = last
        }
    }

    // MARK: - Operators

    /// Dead letters not yet resolved, oldest first.
    public static func deadLetters(serverID: String?, limit: Int = 100, on connection: PostgresConnection) async throws -> [DeadLetter] {
        try await connection.query("""
            SELECT dead_letter_id, event_id, server_id, idempotency_key, cause, reason, response, \(unsafeSQL: SQLFragment.epochMilliseconds("created_at"))
            FROM dead_letters WHERE resolved_at IS NULL AND (\(serverID)::text IS NULL OR server_id = \(serverID))
            ORDER BY dead_letter_id LIMIT \(limit)
            """, name: "list dead letters").map { row in
            DeadLetter(
                deadLetterID: try row.decode(Int64.self, 0), eventID: try row.decode(Int64.self, 1), serverID: try row.decode(String.self, 2),
                idempotencyKey: try row.decode(String.self, 3), cause: try row.decode(String.self, 4), reason: try row.decode(String.self, 5),
                response: try row.decode(String?.self, 6), createdAtMilliseconds: try row.decode(Int64.self, 7))
        }
    }

    /// Puts parked events of a server (all, or those listed) back in the outbox with a fresh attempt count.
    /// - Returns: how many events went back.
    public static func retryParked(serverID: String, eventIDs: [Int64]?, by operatorName: String, on connection: PostgresConnection) async throws -> Int {
        try await connection.transaction(name: "retry parked outbox events") { connection in
            let ids = try connection.query("""
                UPDATE outbox SET parked_at = NULL, attempts = 0, available_at = now(), last_error = NULL, claimed_by = NULL, claimed_until = NULL
                WHERE server_id = \(serverID) AND parked_at IS NOT NULL AND delivered_at IS NULL
                  AND (\(eventIDs.map(idArray))::bigint[] IS NULL OR event_id = ANY(\(eventIDs.map(idArray))::bigint[]))
                RETURNING event_id
                """, name: "retry parked outbox events").map { try $0.decode(Int64.self, 0) }
            try resolve(ids, as: "retried", by: operatorName, on: connection)
            return ids.count
        }
    }

    /// Deletes parked events of a server (all, or those listed) for good; their dead letters keep the payload.
    /// - Returns: how many events were purged.
    public static func purgeParked(serverID: String, eventIDs: [Int64]?, by operatorName: String, on connection: PostgresConnection) async throws -> Int {
        try await connection.transaction(name: "purge parked outbox events") { connection in
            let ids = try connection.query("""
                DELETE FROM outbox WHERE server_id = \(serverID) AND parked_at IS NOT NULL AND delivered_at IS NULL
                  AND (\(eventIDs.map(idArray))::bigint[] IS NULL OR event_id = ANY(\(eventIDs.map(idArray))::bigint[]))
                RETURNING event_id
                """, name: "purge parked outbox events").map { try $0.decode(Int64.self, 0) }
            try resolve(ids, as: "purged", by: operatorName, on: connection)
            return ids.count
        }
    }

    // MARK: - Internals

    private static func park(
        _ eventIDs: [Int64], cause: String, reason: String, response: String?, countAttempt: Bool, on connection: isolated PostgresConnection
    ) throws {
        try connection.query("""
            WITH parked AS (
                UPDATE outbox SET parked_at = now(), last_error = \(reason), claimed_by = NULL, claimed_until = NULL,
                       attempts = attempts + \(countAttempt ? 1 : 0)
                WHERE event_id = ANY(\(idArray(eventIDs))::bigint[]) AND delivered_at IS NULL AND parked_at IS NULL
                RETURNING event_id, server_id, idempotency_key, payload, fact_id, fact_time_utc)
            INSERT INTO dead_letters (event_id, server_id, idempotency_key, cause, reason, response, payload)
            SELECT p.event_id, p.server_id, p.idempotency_key, \(cause), \(reason), \(response),
                   -- An event written without its payload (0020) keeps the fact's as it is now, rendered by SQL (a rare
                   -- path: FactStore.payloadSQL is the same object); only the key if the fact is gone.
                   coalesce(p.payload::jsonb,
                            (SELECT \(unsafeSQL: FactStore.payloadSQL) FROM trading_facts t WHERE t.fact_id = p.fact_id AND t.time_utc = p.fact_time_utc),
                            jsonb_build_object('idempotency_key', p.idempotency_key))
            FROM parked p
            """, name: "park outbox events")
    }

    private static func resolve(_ eventIDs: [Int64], as resolution: String, by operatorName: String, on connection: isolated PostgresConnection) throws {
        guard !eventIDs.isEmpty else { return }
        try connection.query("""
            UPDATE dead_letters SET resolved_at = now(), resolution = \(resolution), resolved_by = \(operatorName)
            WHERE event_id = ANY(\(idArray(eventIDs))::bigint[]) AND resolved_at IS NULL
            """, name: "resolve dead letters")
    }

    /// A PostgreSQL array literal of ids, bound as one text parameter.
    private static func idArray(_ ids: [Int64]) -> String {
        "{" + ids.map(String.init).joined(separator: ",") + "}"
    }
}
