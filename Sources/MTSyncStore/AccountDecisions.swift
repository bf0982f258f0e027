import MTSyncCore

/// The accounts' side of every fact's decision (design invariant 9; migration 0010): the account histories a page
/// decides its facts with, the lock that keeps pages and account changes of a server from deciding past each other,
/// and the re-decision of stored facts when a new account version is learned (a demo → real move, or an account
/// learned late). The decisions themselves are `AccountPolicy`'s (Core).
public enum AccountDecisions {
    /// Two-key advisory locks, one per server (by hash: two servers may share one, which only serializes them).
    static let lockClass = 7_270_019

    /// Taken by every page that decides facts, for its transaction.
    static func lockShared(server: String, on connection: isolated PostgresConnection) throws {
        try connection.query("SELECT pg_advisory_xact_lock_shared(\(lockClass), hashtext(\(server)))", name: "lock the server's accounts (shared)")
    }

    /// Taken by whatever changes what decides a server's facts (new account versions, their application), for its
    /// transaction: it waits for pages in flight, and pages after it see the change.
    static func lockExclusive(server: String, on connection: isolated PostgresConnection) throws {
        try connection.query("SELECT pg_advisory_xact_lock(\(lockClass), hashtext(\(server)))", name: "lock the server's accounts")
    }

    /// The account history of each of `logins` that the server has sent (one query for the whole page).
    static func histories(server: String, logins: Set<UInt64>, on connection: isolated PostgresConnection) throws -> [UInt64: AccountHistory] {
        guard !logins.isEmpty else { return [:] }
        let rows = try connection.query(PostgresQuery(sql: """
            SELECT login, CASE WHEN valid_from = '-infinity' THEN NULL ELSE (extract(epoch FROM valid_from) * 1000)::bigint END,
                   account_group, currency
            FROM account_versions WHERE server_id = $1 AND login = ANY($2::bigint[])
            ORDER BY login, valid_from
            """, parameters: [server, PostgresArray(logins.map { Int64(bitPattern: $0) }).postgresText]), name: "read account histories")
        var states: [UInt64: [AccountState]] = [:]
        for row in rows {
            states[UInt64(bitPattern: try row.decode(Int64.self, 0)), default: []].append(AccountState(
                group: try row.decode(String?.self, 2), currency: try row.decode(String?.self, 3), validFromUTCMilliseconds: try row.decode(Int64?.self, 1)))
        }
        return states.mapValues { AccountHistory($0) }
    }

    /// What applying new account versions changed.
    public struct Applied: Sendable, Hashable {
        public var versions = 0
        /// Facts that counted and are now excluded (each retracted with `fact.deleted`).
        public var excluded = 0
        /// Facts that were excluded and now count (each sent).
        public var included = 0

        public init() {}
    }

    /// Decides again, with `policy`, the stored facts of every login of `server` that has account versions not yet
    /// applied, from the earliest such version on; then marks those versions applied. A fact that changes between
    /// counting and excluded gets revision + 1 and one event (`fact.created`/`fact.updated` when it now counts,
    /// `fact.deleted` with the reason when it stops counting), and its hour and day are marked for the aggregates
    /// and the daily feed. `loginsPerPass` logins per transaction.
    public static func applyNewVersions(server: String, policy: AccountPolicy, loginsPerPass: Int = 500, on connection: PostgresConnection) async throws -> Applied {
        var applied = Applied()
        while !Task.isCancelled {
            let pass = try await connection.transaction(name: "apply account versions") { connection in
                try lockExclusive(server: server, on: connection)
                let due = try connection.query(PostgresQuery(sql: """
                    SELECT login, min(valid_from)::text, count(*) FROM account_versions
                    WHERE server_id = $1 AND applied_at IS NULL GROUP BY login ORDER BY login LIMIT $2::int
                    """, parameters: [server, String(loginsPerPass)]), name: "account versions to apply")
                guard !due.isEmpty else { return Applied() }
                var logins: [Int64] = [], froms: [String] = []
                var pass = Applied()
                for row in due {
                    logins.append(try row.decode(Int64.self, 0))
                    froms.append(try row.decode(String.self, 1))
                    pass.versions += try row.decode(Int.self, 2)
                }
                let histories = try histories(server: server, logins: Set(logins.map { UInt64(bitPattern: $0) }), on: connection)
                let facts = try connection.query(PostgresQuery(sql: """
                    SELECT f.fact_id, f.login, (extract(epoch FROM f.time_utc) * 1000)::bigint, f.excluded_reason
                    FROM trading_facts f JOIN unnest($2::bigint[], $3::timestamptz[]) AS u(login, valid_from)
                      ON f.server_id = $1 AND f.login = u.login AND f.time_utc >= u.valid_from
                    WHERE NOT f.deleted
                    """, parameters: [server, PostgresArray(logins).postgresText, PostgresArray(froms).postgresText]), name: "facts of changed accounts")
                var flipped: [(factID: Int64, reason: String?)] = [], renamed: [(factID: Int64, reason: String)] = []
                for row in facts {
                    let login = UInt64(bitPattern: try row.decode(Int64.self, 1))
                    let before = try row.decode(String?.self, 3)
                    guard case .decided(_, let excluded) = policy.disposition(login: login, atUTCMilliseconds: try row.decode(Int64.self, 2), history: histories[login])
                    else { continue }  // the account has no group now: the stored decision stands
                    let after = excluded?.rawValue
                    if (before == nil) != (after == nil) {
                        flipped.append((try row.decode(Int64.self, 0), after))
                        if after == nil { pass.included += 1 } else { pass.excluded += 1 }
                    } else if let after, before != after {
                        renamed.append((try row.decode(Int64.self, 0), after))
                    }
                }
                if !flipped.isEmpty { try flip(flipped, server: server, on: connection) }
                if !renamed.isEmpty {
                    try connection.query(PostgresQuery(sql: """
                        UPDATE trading_facts t SET excluded_reason = c.reason FROM unnest($2::bigint[], $3::text[]) AS c(fact_id, reason)
                        WHERE t.server_id = $1 AND t.fact_id = c.fact_id
                        """, parameters: [server, PostgresArray(renamed.map(\.factID)).postgresText, PostgresArray(renamed.map(\.reason)).postgresText]),
                        name: "rename exclusion reasons")
                }
                try connection.query(PostgresQuery(sql: """
                    UPDATE account_versions SET applied_at = now() WHERE server_id = $1 AND login = ANY($2::bigint[]) AND applied_at IS NULL
                    """, parameters: [server, PostgresArray(logins).postgresText]), name: "mark account versions applied")
                return pass
            }
            guard pass.versions > 0 else { break }
            applied.versions += pass.versions
            applied.excluded += pass.excluded
            applied.included += pass.included
        }
        return applied
    }

    /// Moves facts between counting and excluded: revision + 1, one event each, their hours and days marked.
    private static func flip(_ changes: [(factID: Int64, reason: String?)], server: String, on connection: isolated PostgresConnection) throws {
        try connection.query(PostgresQuery(sql: """
            WITH c AS (
                SELECT * FROM unnest($2::bigint[], $3::text[]) AS c(fact_id, reason)
            ), bumped AS (
                UPDATE fact_identities fi SET revision = fi.revision + 1, updated_at = now()
                FROM c WHERE fi.fact_id = c.fact_id
                RETURNING fi.fact_id, fi.revision
            ), changed AS (
                UPDATE trading_facts t SET excluded_reason = c.reason, revision = b.revision,
                       idempotency_key = regexp_replace(t.idempotency_key, ':[0-9]+$', ':' || b.revision)
                FROM c JOIN bumped b USING (fact_id)
                WHERE t.server_id = $1 AND t.fact_id = c.fact_id
                RETURNING t.*
            ), events AS (
                INSERT INTO outbox (server_id, fact_id, event_kind, idempotency_key, payload)
                SELECT server_id, fact_id,
                       CASE WHEN excluded_reason IS NOT NULL THEN 'fact.deleted' WHEN revision = 1 THEN 'fact.created' ELSE 'fact.updated' END,
                       idempotency_key, \(FactStore.payloadSQL)
                FROM changed
            ), \(FactStore.Statements.marks(of: "changed"))
            SELECT count(*) FROM changed
            """, parameters: [server, PostgresArray(changes.map(\.factID)).postgresText, PostgresArray(changes.map(\.reason)).postgresText]),
            name: "decide stored facts again")
    }
}
