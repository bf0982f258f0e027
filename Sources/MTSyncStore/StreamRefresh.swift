import Foundation
import MTSyncCore

/// When a server's snapshot streams — accounts, symbols, open trades, daily records — were last read whole, kept
/// on their `sync_cursors` rows (`last_success_at`), so the daemon reads each on its own interval across restarts.
public enum StreamRefresh {
    /// Records a complete read of `stream` with `records` records.
    public static func record(server: String, stream: SyncStream, records: Int, on connection: PostgresConnection) async throws {
        try await connection.query("""
            INSERT INTO sync_cursors AS c (server_id, stream, records_stored, last_success_at) VALUES (\(server), \(stream.rawValue), \(records), now())
            ON CONFLICT (server_id, stream) DO UPDATE
               SET records_stored = c.records_stored + EXCLUDED.records_stored, last_success_at = now(), updated_at = now()
            """, name: "record a stream refresh")
    }

    /// The last complete read of each snapshot stream of `server`, and whether the server holds pending records.
    public static func state(server: String, on connection: PostgresConnection) async throws -> (lastRead: [SyncStream: Date], holdsPending: Bool) {
        let rows = try await connection.query("""
            SELECT stream, extract(epoch FROM last_success_at)::float8::text FROM sync_cursors
            WHERE server_id = \(server) AND stream IN ('accounts', 'symbols', 'open_trades', 'daily') AND last_success_at IS NOT NULL
            UNION ALL
            SELECT 'pending', NULL WHERE EXISTS (SELECT 1 FROM pending_records WHERE server_id = \(server))
            """, name: "read stream refresh times")
        var lastRead: [SyncStream: Date] = [:], holdsPending = false
        for row in rows {
            let name = try row.decode(String.self, 0)
            if name == "pending" { holdsPending = true; continue }
            if let stream = SyncStream(rawValue: name), let seconds = try row.decode(String?.self, 1).flatMap(Double.init) {
                lastRead[stream] = Date(timeIntervalSince1970: seconds)
            }
        }
        return (lastRead, holdsPending)
    }
}
