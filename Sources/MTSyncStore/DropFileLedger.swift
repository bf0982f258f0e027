import Foundation

/// Which CSV drop files have been taken, by name and content (`drop_files`, migration 0002), so each file is
/// stored exactly once even when it is published twice or mtsync crashes between storing it and moving it aside.
public enum DropFileLedger {
    /// What the ledger says of a file name.
    public enum Entry: Sendable, Hashable {
        case new
        /// Taken before with these contents.
        case taken(sha256: [UInt8])
    }

    public static func entry(serverID: String, fileName: String, on connection: isolated PostgresConnection) throws(PostgresError) -> Entry {
        let rows = try connection.query("""
            SELECT sha256 FROM drop_files WHERE server_id = \(serverID) AND file_name = \(fileName) FOR UPDATE
            """, name: "look up drop file")
        guard let row = rows.first else { return .new }
        return .taken(sha256: Array(try row.decode(Data.self, 0)))
    }

    /// Records a file as taken, in the transaction that stored its records.
    public static func recordTaken(
        serverID: String, fileName: String, sha256: [UInt8], stream: String, rows: Int, quarantined: Int, on connection: isolated PostgresConnection
    ) throws(PostgresError) {
        try connection.query("""
            INSERT INTO drop_files (server_id, file_name, sha256, stream, rows, quarantined)
            VALUES (\(serverID), \(fileName), \(Data(sha256)), \(stream), \(rows), \(quarantined))
            """, name: "record drop file")
    }
}
