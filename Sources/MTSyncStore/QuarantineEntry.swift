import Foundation

/// Input that could not become a fact, kept with the reason and its exact bytes so an operator can see what the
/// bridge sent, fix the cause and replay it. Nothing bad is ever dropped silently.
public struct QuarantineEntry: Sendable, Hashable {
    public var serverID: String?
    /// The stream it came from (`deals`, `trades`, …).
    public var stream: String
    /// Where it came from: `tcp`, or `csv:<file name>`.
    public var source: String
    public var lineNumber: Int?
    /// A stable code for counting (`csv_syntax`, `column_count`, `Login.not_an_integer`, …).
    public var reasonCode: String
    /// A sentence saying what is wrong.
    public var reason: String
    public var raw: [UInt8]

    public init(serverID: String?, stream: String, source: String, lineNumber: Int?, reasonCode: String, reason: String, raw: [UInt8]) {
        self.serverID = serverID
        self.stream = stream
        self.source = source
        self.lineNumber = lineNumber
        self.reasonCode = reasonCode
        self.reason = reason
        self.raw = raw
    }

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
