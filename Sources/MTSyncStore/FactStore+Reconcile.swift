import MTSyncCore

extension FactStore {
    /// The store's side of reconcile: per bucket of `[from, to)` (server time), the count of source records and
    /// the sum of their digest parts modulo 2^64 — the same checksum the bridge computes (§4.7). Buckets without
    /// records are absent (an absent bucket is an empty one).
    public static func digest(
        serverID: ServerID, stream: SyncStream, fromMilliseconds from: Int64, toMilliseconds to: Int64, bucketMilliseconds bucket: Int64,
        on connection: isolated PostgresConnection
    ) throws(PostgresError) -> [Int64: DigestSum] {
        let rows = try connection.query("""
            SELECT \(from) + ((server_time_msc - \(from)) / \(bucket)) * \(bucket) AS bucket_start, count(*), sum(digest_part::numeric)::text
            FROM source_records
            WHERE server_id = \(serverID.rawValue) AND stream = \(stream.rawValue) AND server_time_msc >= \(from) AND server_time_msc < \(to)
            GROUP BY 1
            """, name: "digest source records")
        var buckets: [Int64: DigestSum] = [:]
        for row in rows {
            let sum = try row.decode(String.self, 2)
            // The parts are stored as signed bigints; their exact sum, modulo 2^64, is the unsigned checksum.
            guard let exact = Int128(sum) else {
                throw PostgresError(code: .unexpectedResult, message: "the digest sum \(sum) is not an integer", statement: "digest source records")
            }
            buckets[try row.decode(Int64.self, 0)] = DigestSum(value: UInt64(truncatingIfNeeded: exact), count: try row.decode(Int.self, 1))
        }
        return buckets
    }

    /// The tickets of the source records in `[from, to)`: what repair compares with what the bridge still has.
    public static func sourceTickets(
        serverID: ServerID, stream: SyncStream, fromMilliseconds from: Int64, toMilliseconds to: Int64, on connection: isolated PostgresConnection
    ) throws(PostgresError) -> Set<UInt64> {
        let rows = try connection.query("""
            SELECT ticket FROM source_records
            WHERE server_id = \(serverID.rawValue) AND stream = \(stream.rawValue) AND server_time_msc >= \(from) AND server_time_msc < \(to)
            """, name: "list source records")
        var tickets = Set<UInt64>()
        for row in rows { tickets.insert(UInt64(bitPattern: try row.decode(Int64.self, 0))) }
        return tickets
    }
}

/// A bucket's count and checksum as the store computes them.
public struct DigestSum: Sendable, Hashable, CustomStringConvertible {
    public var value: UInt64
    public var count: Int

    public init(value: UInt64 = 0, count: Int = 0) {
        self.value = value
        self.count = count
    }

    /// 16 lower-case hex digits, as the bridge writes its checksum.
    public var description: String {
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
