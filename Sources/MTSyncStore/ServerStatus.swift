import Foundation
import MTSyncCore

/// What `mtsync status` shows per server: its cursors (position, lag, last success and error), who holds its
/// lease, its open quarantine, its outbox backlog, its last reconcile and its live jobs. Read with a handful of
/// grouped queries whatever the number of servers, so status stays cheap on a busy store.
public struct ServerStatus: Sendable, Codable, Equatable {
    public struct Stream: Sendable, Codable, Equatable {
        public var stream: String
        /// Server time (the trade server's wall clock counted as UTC), milliseconds; 0 before the first record.
        public var positionServerMilliseconds: Int64
        public var positionTicket: Int64
        /// The cursor's time as a real instant, through the server's time zone; nil before the first record
        /// and for streams without a time position (changes, accounts).
        public var positionUTCMilliseconds: Int64?
        /// How far the cursor trails the database's clock, in seconds; nil when `positionUTCMilliseconds` is.
        /// On a quiet server (no deals at night, weekends) lag grows without anything being wrong: alert on lag
        /// together with `lastErrorAt` / `lastSuccessAt`, not on lag alone.
        public var lagSeconds: Int64?
        public var changeSequence: Int64?
        public var recordsStored: Int64
        public var lastSuccessAtMilliseconds: Int64?
        public var lastErrorAtMilliseconds: Int64?
        public var lastError: String?
        /// The last thing the bridge said that mtsync did not believe (a `next` that is not the last record sent, a
        /// lying `count`, records outside the range): the pages were stored, but the bridge has a bug to look at.
        public var lastWarningAtMilliseconds: Int64? = nil
        public var lastWarning: String? = nil

        /// The last attempt failed: an error newer than the last success (or no success at all).
        public var failing: Bool {
            guard let error = lastErrorAtMilliseconds else { return false }
            return error > (lastSuccessAtMilliseconds ?? .min)
        }
    }

    public struct Lease: Sendable, Codable, Equatable {
        public var owner: String
        /// Where the holding process runs (nil for a lease written before migration 0012).
        public var host: String?
        public var pid: Int32?
        /// Whether the holding process is alive (its advisory lock is held): false for a lease left by a process that
        /// died, which its instance takes back at its next start and any other instance when it expires.
        public var processAlive: Bool
        public var generation: Int64
        /// Milliseconds until it expires; negative once expired.
        public var remainingMilliseconds: Int64
        public var released: Bool
        public var live: Bool { !released && remainingMilliseconds > 0 }
    }

    public struct Outbox: Sendable, Codable, Equatable {
        /// Events waiting for delivery (not delivered, not parked).
        public var pending: Int64
        /// Age of the oldest pending event in seconds (0 when none): the figure to alert on.
        public var oldestPendingAgeSeconds: Int64
        /// Poison events set aside after too many attempts: an operator must look.
        public var parked: Int64
    }

    public struct Reconcile: Sendable, Codable, Equatable {
        public var state: String
        public var finishedAtMilliseconds: Int64?
        public var rangeFromServerMilliseconds: Int64
        public var rangeToServerMilliseconds: Int64
        public var outcome: ReconcileRun.Outcome?
        public var error: String?
    }

    public var serverID: String
    public var platform: String
    public var timeZone: String
    public var enabled: Bool
    public var streams: [Stream]
    public var lease: Lease?
    public var openQuarantine: Int64
    public var outbox: Outbox
    public var lastReconcile: Reconcile?
    /// Backfills and reconciles running or waiting.
    public var liveJobs: Int64
    /// Trader-hours whose facts changed and whose `aggregate.hourly` is not emitted yet (open, inside the grace
    /// period, or waiting for the aggregator).
    public var aggregateHoursWaiting: Int64 = 0
    /// Records held until their account is known.
    public var pending = PendingRecords.Summary()
    /// Stored facts never sent, by the reason their account's decision gave (`group_excluded`, …); only when asked
    /// for (`countExcluded`): it counts rows.
    public var excluded: [String: Int64]?

    /// The status of every registered server (or one), ordered by id. `countExcluded`: also count the excluded
    /// facts by reason (a scan of those facts: for a person asking, not for the gauges read every few seconds).
    public static func read(serverID: String? = nil, countExcluded: Bool = false, on connection: PostgresConnection) async throws -> [ServerStatus] {
        try await connection.run { connection in
            let now = try connection.query("SELECT floor(extract(epoch FROM now()) * 1000)::bigint", name: "read clock")[0].decode(Int64.self, 0)
            var servers: [ServerStatus] = []
            var index: [String: Int] = [:]
            for row in try connection.query("""
                SELECT server_id, platform, time_zone, enabled FROM servers WHERE \(serverID)::text IS NULL OR server_id = \(serverID) ORDER BY server_id
                """, name: "status: servers") {
                let id = try row.decode(String.self, 0)
                index[id] = servers.count
                servers.append(ServerStatus(
                    serverID: id, platform: try row.decode(String.self, 1), timeZone: try row.decode(String.self, 2), enabled: try row.decode(Bool.self, 3),
                    streams: [], lease: nil, openQuarantine: 0, outbox: Outbox(pending: 0, oldestPendingAgeSeconds: 0, parked: 0), lastReconcile: nil, liveJobs: 0))
            }
            guard !servers.isEmpty else { return [] }

            for row in try connection.query("""
                SELECT server_id, stream, position_server_msc, position_ticket, change_sequence, records_stored,
                       \(unsafeSQL: milliseconds("last_success_at")), \(unsafeSQL: milliseconds("last_error_at")), last_error,
                       \(unsafeSQL: milliseconds("last_warning_at")), last_warning
                FROM sync_cursors WHERE \(serverID)::text IS NULL OR server_id = \(serverID) ORDER BY server_id, stream
                """, name: "status: cursors") {
                guard let at = index[try row.decode(String.self, 0)] else { continue }
                let stream = try row.decode(String.self, 1)
                let position = try row.decode(Int64.self, 2)
                var utc: Int64?
                if position > 0, stream == SyncStream.deals.rawValue || stream == SyncStream.trades.rawValue,
                   let zone = ServerTimeZone(servers[at].timeZone) {
                    utc = zone.utcMilliseconds(fromServerMilliseconds: position).utcMilliseconds
                }
                servers[at].streams.append(Stream(
                    stream: stream, positionServerMilliseconds: position, positionTicket: try row.decode(Int64.self, 3),
                    positionUTCMilliseconds: utc, lagSeconds: utc.map { max(0, now - $0) / 1000 },
                    changeSequence: try row.decode(Int64?.self, 4), recordsStored: try row.decode(Int64.self, 5),
                    lastSuccessAtMilliseconds: try row.decode(Int64?.self, 6), lastErrorAtMilliseconds: try row.decode(Int64?.self, 7),
                    lastError: try row.decode(String?.self, 8), lastWarningAtMilliseconds: try row.decode(Int64?.self, 9),
                    lastWarning: try row.decode(String?.self, 10)))
            }

            for row in try connection.query("""
                SELECT server_id, owner, generation, floor(extract(epoch FROM expires_at - now()) * 1000)::bigint, released_at IS NOT NULL,
                       holder_host, holder_pid, \(unsafeSQL: LeaseHolder.alive(token: "l.token"))
                FROM server_leases l WHERE \(serverID)::text IS NULL OR server_id = \(serverID)
                """, name: "status: leases") {
                guard let at = index[try row.decode(String.self, 0)] else { continue }
                servers[at].lease = Lease(
                    owner: try row.decode(String.self, 1), host: try row.decode(String?.self, 5), pid: try row.decode(Int32?.self, 6),
                    processAlive: try row.decode(Bool.self, 7), generation: try row.decode(Int64.self, 2),
                    remainingMilliseconds: try row.decode(Int64.self, 3), released: try row.decode(Bool.self, 4))
            }

            // Only open rows are counted: both partial indexes (quarantine_open, outbox_pending/parked) serve these.
            for row in try connection.query("""
                SELECT server_id, count(*) FROM quarantine
                WHERE resolved_at IS NULL AND (\(serverID)::text IS NULL OR server_id = \(serverID)) GROUP BY server_id
                """, name: "status: quarantine") {
                guard let server = try row.decode(String?.self, 0), let at = index[server] else { continue }
                servers[at].openQuarantine = try row.decode(Int64.self, 1)
            }
            for row in try connection.query("""
                SELECT server_id,
                       count(*) FILTER (WHERE parked_at IS NULL),
                       coalesce(floor(extract(epoch FROM now() - min(created_at) FILTER (WHERE parked_at IS NULL))), 0)::bigint,
                       count(*) FILTER (WHERE parked_at IS NOT NULL)
                FROM outbox WHERE delivered_at IS NULL AND (\(serverID)::text IS NULL OR server_id = \(serverID)) GROUP BY server_id
                """, name: "status: outbox") {
                guard let at = index[try row.decode(String.self, 0)] else { continue }
                servers[at].outbox = Outbox(pending: try row.decode(Int64.self, 1), oldestPendingAgeSeconds: try row.decode(Int64.self, 2), parked: try row.decode(Int64.self, 3))
            }

            for row in try connection.query("""
                SELECT server_id, count(*) FROM aggregate_hours_dirty WHERE (\(serverID)::text IS NULL OR server_id = \(serverID)) GROUP BY server_id
                """, name: "status: aggregate hours") {
                guard let at = index[try row.decode(String.self, 0)] else { continue }
                servers[at].aggregateHoursWaiting = try row.decode(Int64.self, 1)
            }

            // Tables of migration 0010: a binary newer than the schema still shows what the schema has.
            let decides = try connection.query("SELECT to_regclass('pending_records') IS NOT NULL", name: "status: schema has decisions")[0].decode(Bool.self, 0)
            for row in try connection.query("""
                SELECT server_id, count(*), count(*) FILTER (WHERE reason = 'account_unknown'), count(*) FILTER (WHERE reason = 'group_unknown'),
                       count(DISTINCT login), extract(epoch FROM now() - min(first_seen_at))::float8::text
                FROM \(unsafeSQL: decides ? "pending_records" : "(SELECT NULL::text AS server_id, NULL::text AS reason, NULL::bigint AS login, NULL::timestamptz AS first_seen_at WHERE false) p")
                WHERE (\(serverID)::text IS NULL OR server_id = \(serverID)) GROUP BY server_id
                """, name: "status: pending records") {
                guard let at = index[try row.decode(String.self, 0)] else { continue }
                servers[at].pending.records = try row.decode(Int.self, 1)
                servers[at].pending.accountUnknown = try row.decode(Int.self, 2)
                servers[at].pending.groupUnknown = try row.decode(Int.self, 3)
                servers[at].pending.logins = try row.decode(Int.self, 4)
                servers[at].pending.oldestSeconds = try row.decode(String?.self, 5).flatMap(Double.init)
            }
            if countExcluded, decides {
                for at in servers.indices { servers[at].excluded = [:] }
                for row in try connection.query("""
                    SELECT server_id, excluded_reason, count(*) FROM trading_facts
                    WHERE excluded_reason IS NOT NULL AND NOT deleted AND (\(serverID)::text IS NULL OR server_id = \(serverID)) GROUP BY 1, 2
                    """, name: "status: excluded facts") {
                    guard let at = index[try row.decode(String.self, 0)] else { continue }
                    servers[at].excluded?[try row.decode(String.self, 1)] = try row.decode(Int64.self, 2)
                }
            }

            for row in try connection.query("""
                SELECT server_id, count(*) FROM jobs WHERE state IN ('pending', 'running') AND (\(serverID)::text IS NULL OR server_id = \(serverID)) GROUP BY server_id
                """, name: "status: live jobs") {
                guard let at = index[try row.decode(String.self, 0)] else { continue }
                servers[at].liveJobs = try row.decode(Int64.self, 1)
            }
            for row in try connection.query("""
                SELECT DISTINCT ON (server_id) server_id, state, \(unsafeSQL: milliseconds("finished_at")), range_from_server_msc, range_to_server_msc,
                       (options ->> 'buckets')::int, (options ->> 'differing')::int, (options ->> 'inserted')::int,
                       (options ->> 'updated')::int, (options ->> 'deleted')::int, last_error
                FROM jobs WHERE kind = 'reconcile' AND (\(serverID)::text IS NULL OR server_id = \(serverID))
                ORDER BY server_id, job_id DESC
                """, name: "status: last reconcile") {
                guard let at = index[try row.decode(String.self, 0)] else { continue }
                var outcome: ReconcileRun.Outcome?
                if let buckets = try row.decode(Int?.self, 5) {
                    outcome = ReconcileRun.Outcome(
                        buckets: buckets, differing: try row.decode(Int?.self, 6) ?? 0, inserted: try row.decode(Int?.self, 7) ?? 0,
                        updated: try row.decode(Int?.self, 8) ?? 0, deleted: try row.decode(Int?.self, 9) ?? 0)
                }
                servers[at].lastReconcile = Reconcile(
                    state: try row.decode(String.self, 1), finishedAtMilliseconds: try row.decode(Int64?.self, 2),
                    rangeFromServerMilliseconds: try row.decode(Int64.self, 3), rangeToServerMilliseconds: try row.decode(Int64.self, 4),
                    outcome: outcome, error: try row.decode(String?.self, 10))
            }
            return servers
        }
    }

    private static func milliseconds(_ column: String) -> String { SQLFragment.epochMilliseconds(column) }
}
