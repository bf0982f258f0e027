import Foundation
import MTSyncCore

/// Records held because their account is not known yet (migration 0010, `pending_records`): kept whole with their
/// fields as received, shown in `mtsync status`, and normalized and decided again when an account of their login is
/// learned (`due`). Everything here runs inside the caller's transaction.
public enum PendingRecords {
    /// Holds `records` (replacing an earlier copy of the same record). Returns how many were held.
    @discardableResult
    static func hold(_ records: [(record: UndecidedRecord, reason: PendingReason)], server: String, source: String, on connection: isolated PostgresConnection) throws -> Int {
        // The fields go as parallel arrays, one element per field of every record, and PostgreSQL builds each
        // record's JSON object (its own escaping, no JSON writer here).
        var fieldRecord: [Int] = [], fieldNames: [String] = [], fieldValues: [String] = []
        for (index, held) in records.enumerated() {
            for (name, value) in held.record.raw.fields {
                fieldRecord.append(index)
                fieldNames.append(name)
                fieldValues.append(value)
            }
        }
        let rows = try connection.query(PostgresQuery(sql: """
            WITH r AS (
                SELECT * FROM unnest($2::int[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[])
                    AS r(i, stream, ticket, login, server_time_msc, reason)
            ), f AS (
                SELECT * FROM unnest($8::int[], $9::text[], $10::text[]) AS f(i, name, value)
            )
            INSERT INTO pending_records AS p (server_id, stream, ticket, login, server_time_msc, fields, reason, source)
            SELECT DISTINCT ON (r.stream, r.ticket) $1, r.stream, r.ticket, r.login, r.server_time_msc,
                   coalesce((SELECT jsonb_object_agg(f.name, f.value) FROM f WHERE f.i = r.i), '{}'::jsonb), r.reason, $11
            FROM r ORDER BY r.stream, r.ticket, r.i DESC
            ON CONFLICT (server_id, stream, ticket) DO UPDATE
               SET login = EXCLUDED.login, server_time_msc = EXCLUDED.server_time_msc, fields = EXCLUDED.fields,
                   reason = EXCLUDED.reason, source = EXCLUDED.source, decided_at = now()
            RETURNING 1
            """, parameters: [
                server,
                PostgresArray(records.indices.map { $0 }).postgresText,
                PostgresArray(records.map(\.record.stream.rawValue)).postgresText,
                PostgresArray(records.map { Int64(bitPattern: $0.record.ticket) }).postgresText,
                PostgresArray(records.map { Int64(bitPattern: $0.record.login) }).postgresText,
                PostgresArray(records.map(\.record.serverTimeMilliseconds)).postgresText,
                PostgresArray(records.map(\.reason.rawValue)).postgresText,
                PostgresArray(fieldRecord).postgresText, PostgresArray(fieldNames).postgresText, PostgresArray(fieldValues).postgresText,
                source,
            ]), name: "hold pending records")
        return rows.count
    }

    /// Whether the server holds any record: most pages decide every record and hold none, and releasing them would
    /// send every ticket of the page to look for rows that are not there.
    static func any(server: String, on connection: isolated PostgresConnection) throws(PostgresError) -> Bool {
        !(try connection.query("SELECT 1 FROM pending_records WHERE server_id = \(server) LIMIT 1", name: "any held records")).isEmpty
    }

    /// Forgets the held copies of records now decided. Returns how many were held.
    @discardableResult
    static func release(_ records: [UndecidedRecord], server: String, on connection: isolated PostgresConnection) throws -> Int {
        try connection.query(PostgresQuery(sql: """
            DELETE FROM pending_records p USING unnest($2::text[], $3::bigint[]) AS r(stream, ticket)
            WHERE p.server_id = $1 AND p.stream = r.stream AND p.ticket = r.ticket
            RETURNING 1
            """, parameters: [
                server, PostgresArray(records.map(\.stream.rawValue)).postgresText,
                PostgresArray(records.map { Int64(bitPattern: $0.ticket) }).postgresText,
            ]), name: "release decided records").count
    }

    /// Forgets held records the bridge deleted (every stream of each ticket).
    static func forget(server: String, tickets: [UInt64], on connection: isolated PostgresConnection) throws {
        try connection.query(PostgresQuery(sql: """
            DELETE FROM pending_records WHERE server_id = $1 AND ticket = ANY($2::bigint[])
            """, parameters: [server, PostgresArray(tickets.map { Int64(bitPattern: $0) }).postgresText]), name: "forget deleted pending records")
    }

    /// Forgets held records by stream and ticket (normalization now refuses them: they went to quarantine).
    public static func forget(server: String, records: [(stream: SyncStream, ticket: UInt64)], on connection: isolated PostgresConnection) throws {
        guard !records.isEmpty else { return }
        try connection.query(PostgresQuery(sql: """
            DELETE FROM pending_records p USING unnest($2::text[], $3::bigint[]) AS r(stream, ticket)
            WHERE p.server_id = $1 AND p.stream = r.stream AND p.ticket = r.ticket
            """, parameters: [
                server, PostgresArray(records.map(\.stream.rawValue)).postgresText, PostgresArray(records.map { Int64(bitPattern: $0.ticket) }).postgresText,
            ]), name: "forget refused pending records")
    }

    /// Held records worth deciding again, at most `limit`, open trades first (an MT4 record's closed copy, decided
    /// after it, then wins): those whose login had an account version learned since their last try, and those not
    /// tried since `retryBefore` (a rules file or filter changed). `after` pages through them.
    public static func due(
        server: String, platform: Platform, retryBefore: Date, limit: Int, on connection: PostgresConnection
    ) async throws -> [HeldRecord] {
        let rows = try await connection.query(PostgresQuery(sql: """
            WITH due AS (
                SELECT p.stream, p.ticket, p.fields FROM pending_records p
                WHERE p.server_id = $1
                  AND (p.decided_at < to_timestamp($2::double precision)
                       OR EXISTS (SELECT 1 FROM account_versions v
                                  WHERE v.server_id = p.server_id AND v.login = p.login AND v.learned_at >= p.decided_at))
                ORDER BY (p.stream = 'open_trades') DESC, p.server_time_msc, p.ticket
                LIMIT $3::int
            )
            SELECT due.stream, due.ticket, kv.key, kv.value FROM due CROSS JOIN LATERAL jsonb_each_text(due.fields) kv
            """, parameters: [server, String(retryBefore.timeIntervalSince1970), String(limit)]), name: "pending records due")
        var held: [HeldRecord] = []
        var current: (stream: String, ticket: Int64, fields: [(String, String)])?
        func flush() {
            guard let current, let stream = SyncStream(rawValue: current.stream) else { return }
            held.append(HeldRecord(stream: stream, ticket: UInt64(bitPattern: current.ticket), raw: RawRecord(platform: platform, fields: current.fields)))
        }
        for row in rows {
            let stream = try row.decode(String.self, 0), ticket = try row.decode(Int64.self, 1)
            if current?.stream != stream || current?.ticket != ticket {
                flush()
                current = (stream, ticket, [])
            }
            current?.fields.append((try row.decode(String.self, 2), try row.decode(String.self, 3)))
        }
        flush()
        return held
    }

    /// How many records a server holds, why, and since when the oldest.
    public struct Summary: Sendable, Hashable, Codable {
        public var records = 0
        public var accountUnknown = 0
        public var groupUnknown = 0
        /// Distinct logins waiting.
        public var logins = 0
        public var oldestSeconds: Double?

        public init() {}

        enum CodingKeys: String, CodingKey {
            case records, logins, accountUnknown = "account_unknown", groupUnknown = "group_unknown", oldestSeconds = "oldest_seconds"
        }
    }

    public static func summary(server: String, on connection: PostgresConnection) async throws -> Summary {
        let row = try await connection.query("""
            SELECT count(*), count(*) FILTER (WHERE reason = 'account_unknown'), count(*) FILTER (WHERE reason = 'group_unknown'),
                   count(DISTINCT login), extract(epoch FROM now() - min(first_seen_at))::float8
            FROM pending_records WHERE server_id = \(server)
            """, name: "summarize pending records")[0]
        var summary = Summary()
        summary.records = try row.decode(Int.self, 0)
        summary.accountUnknown = try row.decode(Int.self, 1)
        summary.groupUnknown = try row.decode(Int.self, 2)
        summary.logins = try row.decode(Int.self, 3)
        summary.oldestSeconds = try row.decode(String?.self, 4).flatMap(Double.init)
        return summary
    }
}
