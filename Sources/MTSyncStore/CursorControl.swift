import Foundation
import MTSyncCore

/// One stream's cursor of one server, as `sync_cursors` holds it.
public struct CursorState: Sendable, Hashable {
    public var serverID: String
    public var stream: SyncStream
    public var position: CursorPosition
    /// The `changes` stream's sequence; nil for the other streams.
    public var changeSequence: Int64?
    public var recordsStored: Int64
    public var updatedAt: Date
    public var lastSuccessAt: Date?
    public var lastErrorAt: Date?
    public var lastError: String?

    public init(
        serverID: String, stream: SyncStream, position: CursorPosition, changeSequence: Int64? = nil, recordsStored: Int64 = 0,
        updatedAt: Date, lastSuccessAt: Date? = nil, lastErrorAt: Date? = nil, lastError: String? = nil
    ) {
        self.serverID = serverID
        self.stream = stream
        self.position = position
        self.changeSequence = changeSequence
        self.recordsStored = recordsStored
        self.updatedAt = updatedAt
        self.lastSuccessAt = lastSuccessAt
        self.lastErrorAt = lastErrorAt
        self.lastError = lastError
    }
}

/// One operator change of a cursor (`cursor_audit`, migration 0004).
public struct CursorAuditEntry: Sendable, Hashable {
    public enum Action: String, Sendable, Hashable, Codable {
        case set, reset
    }

    public var id: Int64
    public var serverID: String
    public var stream: SyncStream
    public var action: Action
    /// Nil when the cursor did not exist before the change.
    public var oldPosition: CursorPosition?
    public var oldChangeSequence: Int64?
    public var newPosition: CursorPosition
    /// The change moved the cursor backwards: what lies after `newPosition` will be read again.
    public var movedBack: Bool
    /// Whose live lease the change fenced off (their in-flight page fails), nil when nobody held it.
    public var fencedOwner: String?
    public var changedBy: String
    public var reason: String
    public var changedAt: Date

    public init(
        id: Int64, serverID: String, stream: SyncStream, action: Action, oldPosition: CursorPosition?, oldChangeSequence: Int64?,
        newPosition: CursorPosition, movedBack: Bool, fencedOwner: String?, changedBy: String, reason: String, changedAt: Date
    ) {
        self.id = id
        self.serverID = serverID
        self.stream = stream
        self.action = action
        self.oldPosition = oldPosition
        self.oldChangeSequence = oldChangeSequence
        self.newPosition = newPosition
        self.movedBack = movedBack
        self.fencedOwner = fencedOwner
        self.changedBy = changedBy
        self.reason = reason
        self.changedAt = changedAt
    }
}

/// Operator control of the sync cursors (`mtsync cursor get|set|reset|history`).
///
/// The sync engine only ever moves a cursor forward, in the transaction that stores what it covers. An operator
/// may move it anywhere, backwards included — that is the point: "sync this server again from 1 January". Each
/// change runs in one transaction that also
/// - writes a `cursor_audit` row (who, why, old and new position, and whether it moved back), and
/// - bumps the server's lease generation (`ServerLease`), so an instance syncing the server right now cannot
///   commit a page it read from the old position over the operator's change: its `assertHeld` fails, it
///   re-acquires the lease and re-reads the cursor.
///
/// The lease row is locked before the cursor row, the order a page transaction takes them in (`assertHeld`
/// first, the cursor last), so an operator change and a page never deadlock.
public enum CursorControl {
    /// The streams a server of `platform` has cursors for.
    public static func streams(for platform: Platform) -> [SyncStream] {
        switch platform {
        case .mt5: [.deals, .accounts, .changes]
        case .mt4: [.trades, .openTrades, .accounts, .changes]
        }
    }

    /// Every cursor of a server, by stream; empty when it has not synced yet.
    /// - Throws: `StoreRefusal.unknownServer`, `PostgresError`.
    public static func cursors(serverID: String, on connection: PostgresConnection) async throws -> [CursorState] {
        try await connection.run { connection in
            _ = try platform(of: serverID, on: connection)
            let rows = try connection.query("""
                SELECT stream, position_server_msc, position_ticket, change_sequence, records_stored,
                       \(unsafeSQL: milliseconds("updated_at")), \(unsafeSQL: milliseconds("last_success_at")),
                       \(unsafeSQL: milliseconds("last_error_at")), last_error
                FROM sync_cursors WHERE server_id = \(serverID) ORDER BY stream
                """, name: "read cursors")
            return try rows.map { row in
                CursorState(
                    serverID: serverID, stream: try stream(row, 0),
                    position: CursorPosition(serverTimeMilliseconds: try row.decode(Int64.self, 1), ticket: UInt64(bitPattern: try row.decode(Int64.self, 2))),
                    changeSequence: try row.decode(Int64?.self, 3), recordsStored: try row.decode(Int64.self, 4),
                    updatedAt: date(try row.decode(Int64.self, 5)), lastSuccessAt: try row.decode(Int64?.self, 6).map(date),
                    lastErrorAt: try row.decode(Int64?.self, 7).map(date), lastError: try row.decode(String?.self, 8))
            }
        }
    }

    /// Moves a stream's cursor to `position` (forward or back), creating it if the server has not synced that
    /// stream yet, and records the change.
    /// - Parameters:
    ///   - by: the operator's name, e.g. `alice@ops-host`.
    ///   - reason: why, for whoever reads the audit later; required.
    /// - Throws: `StoreRefusal` (unknown server, a stream the server's platform does not have, a
    ///   negative time, an empty name or reason), `PostgresError`.
    @discardableResult
    public static func set(
        serverID: String, stream: SyncStream, position: CursorPosition, by: String, reason: String, on connection: PostgresConnection
    ) async throws -> CursorAuditEntry {
        try await change(.set, serverID: serverID, stream: stream, to: position, by: by, reason: reason, on: connection)
    }

    /// Moves a stream's cursor back to the start `(0, 0)` (and forgets the `changes` stream's sequence), so the
    /// server's whole history is read again; records the change.
    @discardableResult
    public static func reset(serverID: String, stream: SyncStream, by: String, reason: String, on connection: PostgresConnection) async throws -> CursorAuditEntry {
        try await change(.reset, serverID: serverID, stream: stream, to: .start, by: by, reason: reason, on: connection)
    }

    /// The audit of a server's cursor changes, newest first.
    public static func history(serverID: String, limit: Int = 100, on connection: PostgresConnection) async throws -> [CursorAuditEntry] {
        try await connection.run { connection in
            _ = try platform(of: serverID, on: connection)
            let rows = try connection.query("""
                SELECT \(unsafeSQL: auditColumns) FROM cursor_audit
                WHERE server_id = \(serverID) ORDER BY audit_id DESC LIMIT \(max(limit, 0))
                """, name: "read cursor audit")
            return try rows.map(auditEntry)
        }
    }

    // MARK: - Internals

    private static func change(
        _ action: CursorAuditEntry.Action, serverID: String, stream: SyncStream, to position: CursorPosition, by: String, reason: String,
        on connection: PostgresConnection
    ) async throws -> CursorAuditEntry {
        let by = by.trimmingCharacters(in: .whitespacesAndNewlines)
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !by.isEmpty else { throw StoreRefusal(code: .invalidArgument, serverID: serverID, message: "say who makes the change (--by)") }
        guard !reason.isEmpty else { throw StoreRefusal(code: .invalidArgument, serverID: serverID, message: "say why the cursor changes (--reason): the audit keeps it") }
        guard position.serverTimeMilliseconds >= 0, position.ticket <= UInt64(Int64.max) else {
            throw StoreRefusal(code: .invalidArgument, serverID: serverID, message: "a cursor position needs a time from 1970 on and a ticket up to 2^63 - 1, not \(position)")
        }
        return try await connection.transaction(name: "\(action.rawValue) cursor") { connection in
            let platform = try platform(of: serverID, on: connection)
            guard streams(for: platform).contains(stream) else {
                throw StoreRefusal(code: .unknownStream, serverID: serverID, message: "an \(platform.rawValue) server has no \(stream.rawValue) stream; its streams are \(streams(for: platform).map(\.rawValue).joined(separator: ", "))")
            }
            // Lease row first, then the cursor row: the order a page transaction locks them in.
            let fenced = try connection.query("""
                UPDATE server_leases SET generation = generation + 1 WHERE server_id = \(serverID)
                RETURNING CASE WHEN released_at IS NULL AND expires_at > now() THEN owner END
                """, name: "fence the server's lease")
            let fencedOwner = try fenced.first?.decode(String?.self, 0)
            let old = try connection.query("""
                SELECT position_server_msc, position_ticket, change_sequence FROM sync_cursors
                WHERE server_id = \(serverID) AND stream = \(stream.rawValue) FOR UPDATE
                """, name: "lock cursor").first
            let oldPosition = try old.map { row in
                CursorPosition(serverTimeMilliseconds: try row.decode(Int64.self, 0), ticket: UInt64(bitPattern: try row.decode(Int64.self, 1)))
            }
            let oldSequence = try old?.decode(Int64?.self, 2)
            let ticket = Int64(position.ticket)
            try connection.query("""
                INSERT INTO sync_cursors AS c (server_id, stream, position_server_msc, position_ticket)
                VALUES (\(serverID), \(stream.rawValue), \(position.serverTimeMilliseconds), \(ticket))
                ON CONFLICT (server_id, stream) DO UPDATE SET
                    position_server_msc = EXCLUDED.position_server_msc, position_ticket = EXCLUDED.position_ticket,
                    change_sequence = CASE WHEN \(action == .reset) THEN NULL ELSE c.change_sequence END,
                    updated_at = now()
                """, name: "\(action.rawValue) cursor")
            let movedBack = oldPosition.map { position < $0 } ?? false
            let audit = try connection.query("""
                INSERT INTO cursor_audit (server_id, stream, action, old_server_msc, old_ticket, old_change_sequence,
                    new_server_msc, new_ticket, moved_back, fenced_owner, changed_by, reason)
                VALUES (\(serverID), \(stream.rawValue), \(action.rawValue), \(oldPosition?.serverTimeMilliseconds),
                    \(oldPosition.map { Int64(bitPattern: $0.ticket) }), \(oldSequence), \(position.serverTimeMilliseconds), \(ticket),
                    \(movedBack), \(fencedOwner), \(by), \(reason))
                RETURNING \(unsafeSQL: auditColumns)
                """, name: "audit cursor change")
            return try auditEntry(audit[0])
        }
    }

    private static func platform(of serverID: String, on connection: isolated PostgresConnection) throws -> Platform {
        let rows = try connection.query("SELECT platform FROM servers WHERE server_id = \(serverID)", name: "find server")
        guard let row = rows.first else {
            throw StoreRefusal(code: .unknownServer, serverID: serverID, message: "there is no server \(String(reflecting: serverID)) in the servers table")
        }
        let text = try row.decode(String.self, 0)
        guard let platform = Platform(rawValue: text) else {
            throw PostgresError(code: .unexpectedResult, message: "servers.platform is \(String(reflecting: text)), neither mt4 nor mt5", statement: "find server")
        }
        return platform
    }

    private static let auditColumns = """
        audit_id, server_id, stream, action, old_server_msc, old_ticket, old_change_sequence, new_server_msc, new_ticket,
        moved_back, fenced_owner, changed_by, reason, floor(extract(epoch FROM changed_at) * 1000)::bigint
        """

    private static func auditEntry(_ row: PostgresRow) throws -> CursorAuditEntry {
        let actionText = try row.decode(String.self, 3)
        guard let action = CursorAuditEntry.Action(rawValue: actionText) else {
            throw PostgresError(code: .unexpectedResult, message: "cursor_audit.action is \(String(reflecting: actionText))", statement: "read cursor audit")
        }
        let oldTime = try row.decode(Int64?.self, 4)
        let oldTicket = try row.decode(Int64?.self, 5)
        return CursorAuditEntry(
            id: try row.decode(Int64.self, 0), serverID: try row.decode(String.self, 1), stream: try stream(row, 2), action: action,
            oldPosition: oldTime.map { CursorPosition(serverTimeMilliseconds: $0, ticket: UInt64(bitPattern: oldTicket ?? 0)) },
            oldChangeSequence: try row.decode(Int64?.self, 6),
            newPosition: CursorPosition(serverTimeMilliseconds: try row.decode(Int64.self, 7), ticket: UInt64(bitPattern: try row.decode(Int64.self, 8))),
            movedBack: try row.decode(Bool.self, 9), fencedOwner: try row.decode(String?.self, 10), changedBy: try row.decode(String.self, 11),
            reason: try row.decode(String.self, 12), changedAt: date(try row.decode(Int64.self, 13)))
    }

    private static func stream(_ row: PostgresRow, _ column: Int) throws -> SyncStream {
        let text = try row.decode(String.self, column)
        guard let stream = SyncStream(rawValue: text) else {
            throw PostgresError(code: .unexpectedResult, message: "stream \(String(reflecting: text)) is not one mtsync knows", statement: "read cursors")
        }
        return stream
    }

    private static func milliseconds(_ column: String) -> String { SQLFragment.epochMilliseconds(column) }

    private static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}
