import Foundation

/// The right of one mtsync instance to sync one server (`server_leases`, migration 0004), so that several
/// instances can run against one database for high availability and each server is still synced by exactly one.
///
/// **Decided by the database.** Every decision is one statement that compares `expires_at` with PostgreSQL's
/// `now()`, never an instance's own clock, so clock skew between machines cannot make two instances both think
/// they hold a lease. `acquire` is a single `INSERT … ON CONFLICT DO UPDATE … WHERE <expired, released or
/// mine> RETURNING`: the conflicting row is locked and the condition re-evaluated against its newest version,
/// so of two instances racing for a server exactly one gets a row back.
///
/// **Takeover time.** A holder renews well within `ttl` (every `ttl / 3` is a good pace). When it dies it stops
/// renewing; its lease expires at most `ttl` after its last renewal, and the first `acquire` by another instance
/// after that takes it. With instances polling for free servers every `poll`, a dead instance's servers are
/// taken over within `ttl + poll` of its last renewal. A clean shutdown calls `release`, and another instance
/// takes the server at its next poll.
///
/// **Whose lease.** `owner` is the instance id; `token`, `host` and `pid` name the process that holds it
/// (`LeaseHolder`, migration 0014). A lease is its holder's only when owner *and* token match, so two processes
/// started with the same instance id never both work a server: the second finds it held by another. A lease of
/// this instance whose process is gone (its token's advisory lock is free: it was killed, or crashed) is taken back
/// at once by the next process of the instance that asks, with generation + 1, instead of after `ttl`.
///
/// **Fencing.** A holder paused past its expiry (GC, a stalled disk, a network partition) may wake up still
/// believing it holds the lease. `generation` grows with every new tenure, so the page store runs
/// `assertHeld(serverID:owner:generation:on:)` *first* in its page transaction: it locks the lease row
/// `FOR SHARE` (a takeover must wait for the page to commit or roll back) and refuses when the owner, the
/// generation or a release says the lease is gone. An operator's `mtsync cursor set|reset` bumps the generation
/// too (see `CursorControl`), so the holder's in-flight page fails and it must re-read its cursors before going
/// on; `acquire` by the same owner then returns the lease with the new generation.
///
/// **Expiry lets others in; it does not end a tenure by itself.** A tenure ends when another process takes the
/// lease (generation + 1), when it is released, or when an operator fences it. Until then an expired lease is
/// still its holder's to renew and to write under: nobody can have written the server in between, since every
/// writer of another tenure would have bumped the generation first. This matters because the holder's own page
/// holds the row `FOR SHARE`, and its renewal (an `UPDATE` of that row, on another connection) waits for the page
/// to commit: a page slower than the time left on the lease (a loaded database, a big page) let the lease lapse
/// behind it, and the renewal that then ran declared the holder's own lease lost (the CI failure of stop 26).
public struct ServerLease: Sendable, Hashable {
    public var serverID: String
    /// The holder's instance id.
    public var owner: String
    /// The holding process (`LeaseHolder.token`); nil for a lease written before migration 0014.
    public var token: Int64?
    /// Where the holding process runs; nil before migration 0014.
    public var host: String?
    public var pid: Int32?
    /// The fencing token: grows with every new tenure (and every operator change of the server's cursors).
    public var generation: Int64
    /// When this tenure began (renewals keep it).
    public var acquiredAt: Date
    public var renewedAt: Date
    public var expiresAt: Date
    /// Set when the holder released the lease.
    public var releasedAt: Date?
    /// How long until it expires, by the database's clock when it was read (zero or less: expired). Measure
    /// renewal deadlines from this with a monotonic clock rather than comparing `expiresAt` with the local clock.
    public var remaining: Duration

    /// Live: neither expired nor released when it was read.
    public var isLive: Bool { releasedAt == nil && remaining > .zero }

    /// `prod-1 (host mt-sync-a, pid 4242)`: the holder as messages name it.
    public var holderDescription: String { LeaseHolder.describe(instanceID: owner, host: host, pid: pid) }

    /// Whether `holder` is the process holding this lease.
    public func isHeld(by holder: LeaseHolder) -> Bool { owner == holder.instanceID && token == holder.token }

    public init(
        serverID: String, owner: String, token: Int64? = nil, host: String? = nil, pid: Int32? = nil, generation: Int64,
        acquiredAt: Date, renewedAt: Date, expiresAt: Date, releasedAt: Date? = nil, remaining: Duration
    ) {
        self.serverID = serverID
        self.owner = owner
        self.token = token
        self.host = host
        self.pid = pid
        self.generation = generation
        self.acquiredAt = acquiredAt
        self.renewedAt = renewedAt
        self.expiresAt = expiresAt
        self.releasedAt = releasedAt
        self.remaining = remaining
    }

    // MARK: - Taking and keeping a lease

    /// What `take` found: the lease is this process's now, or another process holds it live.
    public enum Acquisition: Sendable, Hashable {
        case held(ServerLease)
        /// Another process holds it (another instance, or another process with this instance id that is alive).
        case heldByAnother(ServerLease)

        /// The lease when this process holds it.
        public var lease: ServerLease? {
            if case .held(let lease) = self { return lease }
            return nil
        }
    }

    /// Takes the server's lease for `holder`, or renews it when `holder` already holds it.
    ///
    /// - Returns: the lease when `holder` holds it now: newly taken (generation 1), taken over (generation + 1,
    ///   whoever held it before) from an expired or released tenure or from a dead process of the same instance,
    ///   or already its own and live (same generation, expiry pushed to `now() + ttl`); nil when another process
    ///   holds a live lease. `take` says who.
    /// - Throws: `StoreRefusal` `.unknownServer` when no such server exists, `.invalidArgument` for an empty
    ///   owner or a ttl under a millisecond; `PostgresError` when the database fails.
    public static func acquire(serverID: String, holder: LeaseHolder, ttl: Duration, on connection: PostgresConnection) async throws -> ServerLease? {
        try await take(serverID: serverID, holder: holder, ttl: ttl, on: connection).lease
    }

    /// `acquire`, saying who holds the lease when it is not `holder`.
    public static func take(serverID: String, holder: LeaseHolder, ttl: Duration, on connection: PostgresConnection) async throws -> Acquisition {
        let milliseconds = try validate(owner: holder.instanceID, ttl: ttl)
        // INSERT … SELECT FROM servers: an unknown server inserts nothing instead of failing on the foreign key,
        // and is told apart from "held by another" below.
        let rows = try await connection.query("""
            INSERT INTO server_leases AS l (server_id, owner, token, holder_host, holder_pid, acquired_at, renewed_at, expires_at, generation)
            SELECT server_id, \(holder.instanceID), \(holder.token), \(holder.host), \(holder.pid),
                   now(), now(), now() + \(milliseconds) * interval '1 millisecond', 1
            FROM servers WHERE server_id = \(serverID)
            ON CONFLICT (server_id) DO UPDATE SET
                owner = EXCLUDED.owner, token = EXCLUDED.token, holder_host = EXCLUDED.holder_host, holder_pid = EXCLUDED.holder_pid,
                acquired_at = CASE WHEN \(unsafeSQL: liveAndMine) THEN l.acquired_at ELSE now() END,
                generation = CASE WHEN \(unsafeSQL: liveAndMine) THEN l.generation ELSE l.generation + 1 END,
                renewed_at = now(),
                expires_at = EXCLUDED.expires_at,
                released_at = NULL
            WHERE l.expires_at <= now() OR l.released_at IS NOT NULL
               OR (l.owner = EXCLUDED.owner AND l.token = EXCLUDED.token)
               -- A live lease of this instance held by another token: taken over only when that process is gone.
               -- CASE, so pg_locks is read only for such a lease, not on every renewal.
               OR CASE WHEN l.owner = EXCLUDED.owner AND l.token IS DISTINCT FROM EXCLUDED.token
                       THEN NOT \(unsafeSQL: LeaseHolder.alive(token: "l.token")) ELSE false END
            RETURNING \(unsafeSQL: columns)
            """, name: "acquire server lease")
        if let row = rows.first { return .held(try decode(row)) }
        let current = try await connection.query("SELECT \(unsafeSQL: columns) FROM server_leases l WHERE server_id = \(serverID)", name: "read server lease")
        guard let row = current.first else {
            throw StoreRefusal(code: .unknownServer, serverID: serverID, message: "there is no server \(String(reflecting: serverID)) in the servers table")
        }
        return .heldByAnother(try decode(row))
    }

    /// Extends the holder's tenure to `ttl` from now, also when it has expired but nobody took it over.
    ///
    /// The row is locked before the clock is read, and the time is `clock_timestamp()`, not `now()`: the renewal
    /// may have waited for the holder's own page transaction, which holds the row, and `now()` is when it began.
    ///
    /// - Throws: `StoreRefusal.lost` when the lease is no longer this tenure's — it was released, taken over,
    ///   or an operator change bumped its generation. The holder must stop writing the server and may `acquire`
    ///   again (after re-reading the server's cursors).
    @discardableResult
    public static func renew(_ lease: ServerLease, ttl: Duration, on connection: PostgresConnection) async throws -> ServerLease {
        let milliseconds = try validate(owner: lease.owner, ttl: ttl)
        let renewed = try await connection.transaction(name: "renew server lease") { connection -> ServerLease? in
            // Lock first, then read the clock: an UPDATE computes its new row before it waits for a lock, so
            // behind a slow page of the holder's own it would set an expiry already in the past.
            try connection.query("SELECT 1 FROM server_leases WHERE server_id = \(lease.serverID) FOR NO KEY UPDATE", name: "lock server lease")
            let rows = try connection.query("""
                UPDATE server_leases AS l SET renewed_at = clock_timestamp(), expires_at = clock_timestamp() + \(milliseconds) * interval '1 millisecond'
                WHERE server_id = \(lease.serverID) AND owner = \(lease.owner) AND token IS NOT DISTINCT FROM \(lease.token)
                  AND generation = \(lease.generation) AND released_at IS NULL
                RETURNING \(unsafeSQL: columns)
                """, name: "renew server lease")
            return try rows.first.map { try decode($0) }
        }
        guard let renewed else {
            throw try await lostError(serverID: lease.serverID, owner: lease.owner, generation: lease.generation, on: connection)
        }
        return renewed
    }

    /// Gives the lease up at once so another instance can take the server without waiting for it to expire.
    /// Only the holder's own live tenure is released; the row stays, so the next tenure's generation is higher.
    ///
    /// - Returns: false when there was nothing of this tenure to release (already lost or released).
    @discardableResult
    public static func release(_ lease: ServerLease, on connection: PostgresConnection) async throws(PostgresError) -> Bool {
        let rows = try await connection.query("""
            UPDATE server_leases SET expires_at = least(expires_at, greatest(renewed_at, now())), released_at = now()
            WHERE server_id = \(lease.serverID) AND owner = \(lease.owner) AND token IS NOT DISTINCT FROM \(lease.token)
              AND generation = \(lease.generation) AND released_at IS NULL
            """, name: "release server lease")
        return rows.affectedRows == 1
    }

    /// Every lease row, live or not, by server: for `mtsync status` and operators.
    public static func holders(on connection: PostgresConnection) async throws(PostgresError) -> [ServerLease] {
        let rows = try await connection.query("SELECT \(unsafeSQL: columns) FROM server_leases l ORDER BY server_id", name: "list server leases")
        var leases: [ServerLease] = []
        for row in rows { leases.append(try decode(row)) }
        return leases
    }

    // MARK: - Fencing

    /// The lease the current task works under, set by the daemon and `mtsync sync` around a pull; the page
    /// transactions of that pull call `assertFenced` first. Nil (backfills, reconcile from the command line,
    /// tests): pages are not fenced — the store's merge by identity keeps them harmless anyway.
    @TaskLocal public static var fence: ServerLease?

    /// `assertHeld` for the task's `fence`, if any: a page whose tenure ended (taken over, or an operator moved
    /// a cursor) is refused with `StoreRefusal.lost` instead of committing over the newer state.
    public static func assertFenced(_ fence: ServerLease?, on connection: isolated PostgresConnection) throws {
        guard let fence else { return }
        try assertHeld(serverID: fence.serverID, owner: fence.owner, generation: fence.generation, on: connection)
    }

    /// Refuses unless `owner` holds the server's lease in tenure `generation` (not released, not taken over, not
    /// fenced by an operator); run it first in the page transaction. An expired lease nobody took is still the
    /// tenure (see "Expiry lets others in" above).
    ///
    /// The row is locked `FOR SHARE` until the caller's transaction ends, so no takeover (and no operator change
    /// of the cursors) can commit in between: the page is stored entirely under this tenure, or not at all.
    public static func assertHeld(serverID: String, owner: String, generation: Int64, on connection: isolated PostgresConnection) throws {
        let rows = try connection.query("""
            SELECT owner, generation, released_at IS NOT NULL
            FROM server_leases WHERE server_id = \(serverID) FOR SHARE
            """, name: "check server lease")
        guard let row = rows.first else {
            throw StoreRefusal(code: .lost, serverID: serverID, message: "\(owner) does not hold the lease of \(serverID): nobody does")
        }
        let holder = try row.decode(String.self, 0)
        let current = try row.decode(Int64.self, 1)
        let released = try row.decode(Bool.self, 2)
        guard holder == owner, current == generation, !released else {
            throw StoreRefusal(code: .lost, serverID: serverID, message: describeLoss(
                serverID: serverID, owner: owner, generation: generation, holderOwner: holder, holder: holder, current: current, released: released))
        }
    }

    // MARK: - Internals

    /// The condition, inside `take`'s ON CONFLICT, for "the existing row is this process's live tenure".
    private static let liveAndMine = "l.owner = EXCLUDED.owner AND l.token = EXCLUDED.token AND l.released_at IS NULL AND l.expires_at > now()"

    /// Times as whole milliseconds since 1970 (PostgreSQL keeps microseconds; a lease needs no finer).
    private static let columns = """
        l.server_id, l.owner, l.generation, l.token, l.holder_host, l.holder_pid,
        floor(extract(epoch FROM l.acquired_at) * 1000)::bigint,
        floor(extract(epoch FROM l.renewed_at) * 1000)::bigint,
        floor(extract(epoch FROM l.expires_at) * 1000)::bigint,
        floor(extract(epoch FROM l.released_at) * 1000)::bigint,
        floor(extract(epoch FROM l.expires_at - clock_timestamp()) * 1000)::bigint
        """

    private static func decode(_ row: PostgresRow) throws(PostgresError) -> ServerLease {
        ServerLease(
            serverID: try row.decode(String.self, 0),
            owner: try row.decode(String.self, 1),
            token: try row.decode(Int64?.self, 3),
            host: try row.decode(String?.self, 4),
            pid: try row.decode(Int32?.self, 5),
            generation: try row.decode(Int64.self, 2),
            acquiredAt: date(try row.decode(Int64.self, 6)),
            renewedAt: date(try row.decode(Int64.self, 7)),
            expiresAt: date(try row.decode(Int64.self, 8)),
            releasedAt: try row.decode(Int64?.self, 9).map { date($0) },
            remaining: Duration.milliseconds(try row.decode(Int64.self, 10)))
    }

    private static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    private static func validate(owner: String, ttl: Duration) throws(StoreRefusal) -> Int64 {
        guard !owner.isEmpty else {
            throw StoreRefusal(code: .invalidArgument, serverID: nil, message: "a lease owner must have a name (e.g. host:pid:random)")
        }
        let milliseconds = ttl.wholeMilliseconds
        guard milliseconds >= 1 else {
            throw StoreRefusal(code: .invalidArgument, serverID: nil, message: "a lease ttl must be at least 1 ms (it is \(ttl))")
        }
        return milliseconds
    }

    private static func lostError(serverID: String, owner: String, generation: Int64, on connection: PostgresConnection) async throws -> StoreRefusal {
        let rows = try await connection.query("""
            SELECT owner, generation, released_at IS NOT NULL, holder_host, holder_pid FROM server_leases WHERE server_id = \(serverID)
            """, name: "read lost server lease")
        guard let row = rows.first else {
            return StoreRefusal(code: .lost, serverID: serverID, message: "\(owner) does not hold the lease of \(serverID): nobody does")
        }
        let holderOwner = try row.decode(String.self, 0)
        let holder = LeaseHolder.describe(instanceID: holderOwner, host: try row.decode(String?.self, 3), pid: try row.decode(Int32?.self, 4))
        return StoreRefusal(code: .lost, serverID: serverID, message: describeLoss(
            serverID: serverID, owner: owner, generation: generation, holderOwner: holderOwner, holder: holder, current: try row.decode(Int64.self, 1),
            released: try row.decode(Bool.self, 2)))
    }

    /// `holderOwner` is the instance now holding the row, `holder` that and its process as messages name them.
    private static func describeLoss(
        serverID: String, owner: String, generation: Int64, holderOwner: String, holder: String, current: Int64, released: Bool
    ) -> String {
        let why: String
        if holderOwner != owner {
            why = "\(holder) took it over (generation \(current))"
        } else if current != generation {
            why = "its generation moved from \(generation) to \(current) (a new tenure, now \(holder)'s, or an operator changed the server's cursors)"
        } else if released {
            why = "it was released"
        } else {
            why = "it changed"
        }
        return "\(owner) no longer holds the lease of \(serverID) in generation \(generation): \(why); stop writing this server, re-read its cursors and acquire it again"
    }

}

