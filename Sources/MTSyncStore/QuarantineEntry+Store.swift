import Foundation
import MTSyncCore

/// Quarantine entries in the store (migration 0009).
extension QuarantineEntry {
    /// Adds the entry, inside the caller's transaction so it commits with the data around it — unless the same
    /// bytes from the same source and line are already quarantined and open (migration 0009: the sync re-reads its lookback
    /// window every poll, bad records included).
    /// - Returns: whether it was new.
    @discardableResult
    public func insert(on connection: isolated PostgresConnection) throws(PostgresError) -> Bool {
        let rows = try connection.query("""
            INSERT INTO quarantine (server_id, stream, source, line_number, reason_code, reason, raw)
            VALUES (\(serverID), \(stream), \(source), \(lineNumber), \(reasonCode), \(reason), \(Data(raw)))
            ON CONFLICT (server_id, stream, source, line_number, raw_sha256) WHERE resolved_at IS NULL DO NOTHING
            RETURNING 1
            """, name: "quarantine a record")
        return !rows.isEmpty
    }

    /// Open entries (not yet resolved) of one server, newest first.
    public static func open(serverID: String, limit: Int = 100, on connection: PostgresConnection) async throws(PostgresError) -> [QuarantineEntry] {
        let rows = try await connection.query("""
            SELECT server_id, stream, source, line_number, reason_code, reason, raw FROM quarantine
            WHERE server_id = \(serverID) AND resolved_at IS NULL ORDER BY quarantine_id DESC LIMIT \(limit)
            """, name: "list quarantine")
        var entries: [QuarantineEntry] = []
        for row in rows {
            entries.append(QuarantineEntry(
                serverID: try row.decode(String?.self, 0), stream: try row.decode(String.self, 1), source: try row.decode(String.self, 2),
                lineNumber: try row.decode(Int?.self, 3), reasonCode: try row.decode(String.self, 4), reason: try row.decode(String.self, 5),
                raw: Array(try row.decode(Data.self, 6))))
        }
        return entries
    }
}
