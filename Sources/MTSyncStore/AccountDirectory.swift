import Foundation
import MTSyncCore

/// An account as stored, with where its customer id comes from.
public struct StoredAccount: Sendable, Hashable, Encodable {
    public var server: String
    public var login: UInt64
    public var group: String?
    public var currency: String?
    public var leverage: Int?
    public var clientID: String?
    public var customerOverride: String?
    /// What the feed uses: the operator's correction, else the bridge's client id.
    public var customerID: String?
    public var updatedAt: String
    /// Login days waiting for a customer id.
    public var heldDays: Int

    enum CodingKeys: String, CodingKey {
        case server, login, group, currency, leverage, clientID = "client_id", customerOverride = "customer_override"
        case customerID = "customer_id", updatedAt = "updated_at", heldDays = "held_days"
    }
}

/// One audited change of an account.
public struct AccountChange: Sendable, Hashable, Encodable {
    public var server: String
    public var login: UInt64
    public var field: String
    public var oldValue: String?
    public var newValue: String?
    public var changedBy: String
    public var changedAt: String

    enum CodingKeys: String, CodingKey {
        case server, login, field, oldValue = "old_value", newValue = "new_value", changedBy = "changed_by", changedAt = "changed_at"
    }
}

/// The `accounts` table (migration 0008): who each login belongs to. Every change is audited with who and when,
/// and a change of customer, group or currency re-marks the login's days for the daily feed — and the former
/// customer's days that counted this login — so both customers' rows are recomputed whole.
public enum AccountDirectory {
    /// Stores a page of the bridge's accounts for `server`, learned from `source` (`tcp`, `csv:<file>`): the current
    /// state in `accounts` (audited, as made by `changedBy`), and a new version in `account_versions` for each
    /// account whose group or currency is new or changed (applied to stored facts by
    /// `AccountDecisions.applyNewVersions`). Returns how many accounts changed (new ones included).
    @discardableResult
    public static func storeFromBridge(server: String, accounts: [AccountRecord], changedBy: String, source: String = "tcp", on connection: PostgresConnection) async throws -> Int {
        guard !accounts.isEmpty else { return 0 }
        return try await connection.transaction(name: "store accounts") { connection in
            try store(server: server, accounts: accounts, changedBy: changedBy, source: source, on: connection)
        }
    }

    /// `storeFromBridge` inside the caller's transaction (a drop file's).
    @discardableResult
    public static func store(server: String, accounts: [AccountRecord], changedBy: String, source: String, on connection: isolated PostgresConnection) throws -> Int {
        guard !accounts.isEmpty else { return 0 }
        // The same login twice in one page: the last one wins.
        var latest: [UInt64: AccountRecord] = [:]
        for account in accounts { latest[account.login] = account }
        let accounts = latest.values.sorted { $0.login < $1.login }
        try AccountDecisions.lockExclusive(server: server, on: connection)
        let rows = try connection.query(PostgresQuery(sql: """
            WITH incoming AS (
                SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::int[], $6::text[], $7::bigint[], $9::timestamptz[],
                                     $10::numeric[], $11::numeric[], $12::numeric[], $13::numeric[], $14::numeric[], $15::boolean[])
                    AS i(login, account_group, currency, leverage, client_id, bridge_updated_ms, updated_utc,
                         balance, credit, equity, margin, margin_free, has_money)
            ), before AS (
                SELECT a.login, a.account_group, a.currency, a.leverage, a.client_id, a.customer_id
                FROM accounts a JOIN incoming i ON a.server_id = $1 AND a.login = i.login
            ), upserted AS (
                INSERT INTO accounts AS a (server_id, login, account_group, currency, leverage, client_id, bridge_updated_ms,
                                           balance, credit, equity, margin, margin_free, money_updated_at)
                SELECT $1, login, account_group, currency, leverage, client_id, bridge_updated_ms,
                       balance, credit, equity, margin, margin_free, CASE WHEN has_money THEN now() END FROM incoming
                ON CONFLICT (server_id, login) DO UPDATE
                   SET account_group = EXCLUDED.account_group, currency = EXCLUDED.currency, leverage = EXCLUDED.leverage,
                       client_id = EXCLUDED.client_id, bridge_updated_ms = EXCLUDED.bridge_updated_ms,
                       balance = coalesce(EXCLUDED.balance, a.balance), credit = coalesce(EXCLUDED.credit, a.credit),
                       equity = coalesce(EXCLUDED.equity, a.equity), margin = coalesce(EXCLUDED.margin, a.margin),
                       margin_free = coalesce(EXCLUDED.margin_free, a.margin_free),
                       money_updated_at = coalesce(EXCLUDED.money_updated_at, a.money_updated_at),
                       updated_at = CASE WHEN (a.account_group, a.currency, a.leverage, a.client_id)
                                              IS DISTINCT FROM (EXCLUDED.account_group, EXCLUDED.currency, EXCLUDED.leverage, EXCLUDED.client_id)
                                         THEN now() ELSE a.updated_at END
                 WHERE (a.account_group, a.currency, a.leverage, a.client_id, a.bridge_updated_ms)
                       IS DISTINCT FROM (EXCLUDED.account_group, EXCLUDED.currency, EXCLUDED.leverage, EXCLUDED.client_id, EXCLUDED.bridge_updated_ms)
                    OR EXCLUDED.money_updated_at IS NOT NULL
                RETURNING a.login, a.account_group, a.currency, a.leverage, a.client_id, a.customer_id
            ), audit AS (
                INSERT INTO account_changes (server_id, login, field, old_value, new_value, changed_by)
                SELECT $1, u.login, c.field, c.old_value, c.new_value, $8
                FROM upserted u LEFT JOIN before b ON b.login = u.login
                CROSS JOIN LATERAL (VALUES ('group', b.account_group, u.account_group), ('currency', b.currency, u.currency),
                                           ('leverage', b.leverage::text, u.leverage::text), ('client_id', b.client_id, u.client_id))
                    AS c(field, old_value, new_value)
                WHERE c.old_value IS DISTINCT FROM c.new_value
            ), money_days AS (
                -- The last money read of each UTC day: the tier snapshots' state where the bridge has no daily records (a
                -- snapshot is decided once its day has closed, so a read of today marks nothing).
                INSERT INTO account_money_days AS m (server_id, login, utc_day, taken_at, balance, credit, equity)
                SELECT $1, login, (now() AT TIME ZONE 'UTC')::date, now(), balance, credit, equity FROM incoming WHERE has_money
                ON CONFLICT (server_id, login, utc_day) DO UPDATE
                   SET taken_at = EXCLUDED.taken_at, balance = EXCLUDED.balance, credit = EXCLUDED.credit, equity = EXCLUDED.equity
                RETURNING m.login
            ), last_version AS (
                SELECT DISTINCT ON (v.login) v.login, v.valid_from, v.account_group, v.currency
                FROM account_versions v JOIN incoming i ON v.server_id = $1 AND v.login = i.login
                ORDER BY v.login, v.valid_from DESC
            ), versions AS (
                -- A new login holds since always; a change from the bridge's updated_ms, else from now (never before the
                -- version it follows).
                INSERT INTO account_versions AS v (server_id, login, valid_from, account_group, currency, learned_from)
                SELECT $1, i.login,
                       CASE WHEN l.login IS NULL THEN '-infinity'::timestamptz
                            WHEN i.updated_utc IS NOT NULL AND i.updated_utc > l.valid_from THEN i.updated_utc
                            ELSE greatest(now(), l.valid_from + interval '1 millisecond') END,
                       i.account_group, i.currency, $16
                FROM incoming i LEFT JOIN last_version l ON l.login = i.login
                WHERE l.login IS NULL OR (l.account_group, l.currency) IS DISTINCT FROM (i.account_group, i.currency)
                ON CONFLICT (server_id, login, valid_from) DO UPDATE
                   SET account_group = EXCLUDED.account_group, currency = EXCLUDED.currency, learned_from = EXCLUDED.learned_from,
                       learned_at = now(), applied_at = NULL
                RETURNING 1
            )
            SELECT u.login, b.customer_id,
                   b.login IS NULL OR (b.account_group, b.currency, b.customer_id) IS DISTINCT FROM (u.account_group, u.currency, u.customer_id),
                   b.login IS NULL OR (b.account_group, b.currency, b.leverage, b.client_id) IS DISTINCT FROM (u.account_group, u.currency, u.leverage, u.client_id)
            FROM upserted u LEFT JOIN before b ON b.login = u.login
            """, parameters: [
                server,
                PostgresArray(accounts.map { Int64(bitPattern: $0.login) }).postgresText,
                PostgresArray(accounts.map(\.group)).postgresText,
                PostgresArray(accounts.map(\.currency)).postgresText,
                PostgresArray(accounts.map { $0.leverage.map(String.init) }).postgresText,
                PostgresArray(accounts.map { $0.clientID.flatMap { $0.isEmpty ? nil : $0 } }).postgresText,
                PostgresArray(accounts.map { $0.updatedMilliseconds.map(String.init) }).postgresText,
                changedBy,
                PostgresArray(accounts.map { $0.updatedUTCMilliseconds.map { FactStore.timestampText(milliseconds: $0) } }).postgresText,
                PostgresArray(accounts.map { $0.money?.balance?.description }).postgresText,
                PostgresArray(accounts.map { $0.money?.credit?.description }).postgresText,
                PostgresArray(accounts.map { $0.money?.equity?.description }).postgresText,
                PostgresArray(accounts.map { $0.money?.margin?.description }).postgresText,
                PostgresArray(accounts.map { $0.money?.marginFree?.description }).postgresText,
                PostgresArray(accounts.map { $0.money.map { $0.isEmpty ? "f" : "t" } ?? "f" }).postgresText,
                source,
            ]), name: "store accounts")
        var changed: [(server: String, login: Int64, formerCustomer: String?)] = []
        var accountsChanged = 0
        for row in rows {
            if try row.decode(Bool.self, 2) {
                changed.append((server, try row.decode(Int64.self, 0), try row.decode(String?.self, 1)))
            }
            if try row.decode(Bool.self, 3) { accountsChanged += 1 }
        }
        try remarkForFeed(changed, on: connection)
        return accountsChanged
    }

    /// Sets (or, with an empty customer id, clears) the operator's customer id of each (server, login); creates
    /// the account when the bridge has not sent it yet. Returns how many accounts changed.
    @discardableResult
    public static func importCustomerIDs(_ rows: [(server: String, login: UInt64, customerID: String)], changedBy: String, on connection: PostgresConnection) async throws -> Int {
        guard !rows.isEmpty else { return 0 }
        return try await connection.transaction(name: "import customer ids") { connection in
            let result = try connection.query(PostgresQuery(sql: """
                WITH incoming AS (
                    SELECT DISTINCT ON (server_id, login) * FROM unnest($1::text[], $2::bigint[], $3::text[]) WITH ORDINALITY AS i(server_id, login, customer, position)
                    ORDER BY server_id, login, position DESC
                ), before AS (
                    SELECT a.server_id, a.login, a.customer_override, a.customer_id FROM accounts a JOIN incoming i USING (server_id, login)
                ), upserted AS (
                    INSERT INTO accounts AS a (server_id, login, customer_override)
                    SELECT server_id, login, nullif(customer, '') FROM incoming
                    ON CONFLICT (server_id, login) DO UPDATE SET customer_override = EXCLUDED.customer_override, updated_at = now()
                     WHERE a.customer_override IS DISTINCT FROM EXCLUDED.customer_override
                    RETURNING a.server_id, a.login, a.customer_override, a.customer_id
                ), audit AS (
                    INSERT INTO account_changes (server_id, login, field, old_value, new_value, changed_by)
                    SELECT u.server_id, u.login, 'customer_override', b.customer_override, u.customer_override, $4
                    FROM upserted u LEFT JOIN before b USING (server_id, login)
                )
                SELECT u.server_id, u.login, b.customer_id, b.customer_id IS DISTINCT FROM u.customer_id
                FROM upserted u LEFT JOIN before b USING (server_id, login)
                """, parameters: [
                    PostgresArray(rows.map(\.server)).postgresText,
                    PostgresArray(rows.map { Int64(bitPattern: $0.login) }).postgresText,
                    PostgresArray(rows.map(\.customerID)).postgresText,
                    changedBy,
                ]), name: "import customer ids")
            var changed: [(server: String, login: Int64, formerCustomer: String?)] = []
            for row in result where try row.decode(Bool.self, 3) {
                changed.append((try row.decode(String.self, 0), try row.decode(Int64.self, 1), try row.decode(String?.self, 2)))
            }
            try remarkForFeed(changed, on: connection)
            return result.count
        }
    }

    /// A login whose customer, group or currency changed: every day it has facts (and every day still marked for
    /// it) is marked again and released if it was held; the former customer's rows that counted it are recomputed.
    static func remarkForFeed(_ changed: [(server: String, login: Int64, formerCustomer: String?)], on connection: isolated PostgresConnection) throws {
        guard !changed.isEmpty else { return }
        try connection.query(PostgresQuery(sql: """
            WITH changed AS (
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[]) AS c(server_id, login, former_customer)
            ), remark AS (
                INSERT INTO feed_login_days_dirty (server_id, login, utc_day)
                SELECT server_id, login, utc_day FROM (
                    SELECT DISTINCT f.server_id, f.login, (f.time_utc AT TIME ZONE 'UTC')::date AS utc_day
                    FROM trading_facts f JOIN changed c ON f.server_id = c.server_id AND f.login = c.login
                    UNION
                    SELECT d.server_id, d.login, d.utc_day
                    FROM feed_login_days_dirty d JOIN changed c ON d.server_id = c.server_id AND d.login = c.login
                ) days
                ON CONFLICT (server_id, login, utc_day) DO UPDATE SET held = false, marked_at = now()
                RETURNING 1
            )
            INSERT INTO feed_customer_days_dirty (customer_id, day)
            SELECT DISTINCT r.customer_id, r.day FROM feed_rows r JOIN changed c ON r.customer_id = c.former_customer
            WHERE r.figures -> 'logins' ? (c.server_id || ':' || c.login)
            ON CONFLICT DO NOTHING
            """, parameters: [
                PostgresArray(changed.map(\.server)).postgresText,
                PostgresArray(changed.map(\.login)).postgresText,
                PostgresArray(changed.map(\.formerCustomer)).postgresText,
            ]), name: "re-mark changed accounts for the feed")
    }

    /// The accounts with this login (on every server, or one), each with how many of its days wait for a customer id.
    public static func show(login: UInt64, server: String?, on connection: PostgresConnection) async throws -> (accounts: [StoredAccount], changes: [AccountChange]) {
        let login = Int64(bitPattern: login)
        let accounts = try await connection.query("""
            SELECT a.server_id, a.login, a.account_group, a.currency, a.leverage, a.client_id, a.customer_override, a.customer_id,
                   to_char(a.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   (SELECT count(*) FROM feed_login_days_dirty d WHERE d.server_id = a.server_id AND d.login = a.login AND d.held)
            FROM accounts a WHERE a.login = \(login) AND (\(server)::text IS NULL OR a.server_id = \(server)) ORDER BY a.server_id
            """, name: "show account").map { row in
            StoredAccount(
                server: try row.decode(String.self, 0), login: UInt64(bitPattern: try row.decode(Int64.self, 1)),
                group: try row.decode(String?.self, 2), currency: try row.decode(String?.self, 3), leverage: try row.decode(Int?.self, 4),
                clientID: try row.decode(String?.self, 5), customerOverride: try row.decode(String?.self, 6), customerID: try row.decode(String?.self, 7),
                updatedAt: try row.decode(String.self, 8), heldDays: try row.decode(Int.self, 9))
        }
        let changes = try await connection.query("""
            SELECT server_id, login, field, old_value, new_value, changed_by, to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            FROM account_changes WHERE login = \(login) AND (\(server)::text IS NULL OR server_id = \(server)) ORDER BY change_id
            """, name: "show account changes").map { row in
            AccountChange(
                server: try row.decode(String.self, 0), login: UInt64(bitPattern: try row.decode(Int64.self, 1)), field: try row.decode(String.self, 2),
                oldValue: try row.decode(String?.self, 3), newValue: try row.decode(String?.self, 4), changedBy: try row.decode(String.self, 5),
                changedAt: try row.decode(String.self, 6))
        }
        return (accounts, changes)
    }
}
