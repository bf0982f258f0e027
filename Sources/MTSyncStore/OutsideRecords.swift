import Foundation
import MTSyncCore

/// The records (and decided facts) of a page that fall outside the fact table's partitions (`FactPartitions.Window`):
/// quarantined in the page's transaction with the reason and the record's fields as sent, so the rest of the page is
/// stored and nothing is dropped silently. A record goes whole: an MT4 trade whose close leg is outside takes its
/// open leg with it.
struct OutsideRecords {
    var records: [(record: UndecidedRecord, reason: String)] = []
    /// Facts that came decided, without their raw record (tests, tools): quarantined with their JSON.
    var facts: [QuarantineEntry] = []

    /// The records inside the window; the others are kept here.
    /// - Throws: `PostgresError` (`noPartition`) when the horizon ran out under a plausible fact.
    mutating func take(_ candidates: [UndecidedRecord], window: FactPartitions.Window) throws(PostgresError) -> [UndecidedRecord] {
        var inside: [UndecidedRecord] = []
        inside.reserveCapacity(candidates.count)
        for record in candidates {
            if let reason = try Self.reason(record.facts, window: window) {
                records.append((record, reason))
            } else {
                inside.append(record)
            }
        }
        return inside
    }

    mutating func take(_ candidates: [TradingFact], window: FactPartitions.Window, stream: SyncStream, source: String) throws(PostgresError) -> [TradingFact] {
        var inside: [TradingFact] = []
        inside.reserveCapacity(candidates.count)
        for fact in candidates {
            if let reason = try Self.reason([fact], window: window) {
                let json = (try? JSONEncoder().encode(fact)).map { Array($0) } ?? Array(fact.identity.key.utf8)
                facts.append(QuarantineEntry(
                    serverID: fact.identity.server.rawValue, stream: stream.rawValue, source: source, lineNumber: nil,
                    reasonCode: FactPartitions.quarantineCode, reason: reason, raw: json))
            } else {
                inside.append(fact)
            }
        }
        return inside
    }

    private static func reason(_ facts: [TradingFact], window: FactPartitions.Window) throws(PostgresError) -> String? {
        for fact in facts {
            if case .outside(let reason) = try window.place(utcMilliseconds: fact.timeUTCMilliseconds) { return reason }
        }
        return nil
    }

    /// Quarantines `records`, one statement for all. PostgreSQL builds each record's JSON object from its fields in
    /// the order sent (its own escaping, as for held records). Returns how many entries are new (an open entry of
    /// the same bytes is not repeated: the lookback re-reads the record every poll).
    func quarantineRecords(server: String, source: String, on connection: isolated PostgresConnection) throws(PostgresError) -> Int {
        var fieldRecord: [Int] = [], fieldOrder: [Int] = [], fieldNames: [String] = [], fieldValues: [String] = []
        for (index, outside) in records.enumerated() {
            for (order, field) in outside.record.raw.fields.enumerated() {
                fieldRecord.append(index)
                fieldOrder.append(order)
                fieldNames.append(field.name)
                fieldValues.append(field.value)
            }
        }
        return try connection.query(PostgresQuery(sql: """
            WITH r AS (
                SELECT * FROM unnest($2::int[], $3::text[], $4::text[]) AS r(i, stream, reason)
            ), f AS (
                SELECT * FROM unnest($5::int[], $6::int[], $7::text[], $8::text[]) AS f(i, n, name, value)
            )
            INSERT INTO quarantine (server_id, stream, source, line_number, reason_code, reason, raw)
            SELECT $1, r.stream, $9, NULL, $10, r.reason,
                   convert_to(coalesce((SELECT json_object_agg(f.name, f.value ORDER BY f.n) FROM f WHERE f.i = r.i)::text, '{}'), 'UTF8')
            FROM r ORDER BY r.i
            ON CONFLICT (server_id, stream, source, line_number, raw_sha256) WHERE resolved_at IS NULL DO NOTHING
            RETURNING 1
            """, parameters: [
                server,
                PostgresArray(records.indices.map { $0 }).postgresText,
                PostgresArray(records.map(\.record.stream.rawValue)).postgresText,
                PostgresArray(records.map(\.reason)).postgresText,
                PostgresArray(fieldRecord).postgresText, PostgresArray(fieldOrder).postgresText,
                PostgresArray(fieldNames).postgresText, PostgresArray(fieldValues).postgresText,
                source, FactPartitions.quarantineCode,
            ]), name: "quarantine records outside the fact partitions").count
    }
}
