import CLibPQ
import Foundation
import MTSyncCore

/// The rows a statement returned, read straight from libpq's result (no copy until a value is decoded).
///
/// `@unchecked Sendable`: the wrapped `PGresult` is never modified after libpq hands it over, and libpq's
/// accessors (`PQgetvalue`, `PQgetisnull`, …) only read it, so sharing it across threads is safe. It is freed
/// when the last reference goes away.
public final class PostgresRows: @unchecked Sendable, RandomAccessCollection {
    fileprivate let result: OpaquePointer
    /// Column names, in order.
    public let columns: [String]
    /// The command tag, e.g. `INSERT 0 3`, `UPDATE 7`, `SELECT 2`.
    public let commandTag: String
    /// The statement's name, for errors when a value does not decode.
    let statement: String?

    init(takingOwnershipOf result: OpaquePointer, statement: String?) {
        self.result = result
        self.statement = statement
        self.columns = (0..<PQnfields(result)).map { String(cString: PQfname(result, $0)) }
        self.commandTag = String(cString: PQcmdStatus(result))
    }

    deinit { PQclear(result) }

    /// Rows inserted, updated, deleted, copied or selected, as the command tag reports them.
    public var affectedRows: Int { Int(String(cString: PQcmdTuples(result))) ?? 0 }

    public var startIndex: Int { 0 }
    public var endIndex: Int { Int(PQntuples(result)) }
    public subscript(position: Int) -> PostgresRow { PostgresRow(rows: self, index: Int32(position)) }

    func text(row: Int32, column: Int32) -> String? {
        if PQgetisnull(result, row, column) != 0 { return nil }
        return String(cString: PQgetvalue(result, row, column))
    }

    func withTextBytes<Result>(row: Int32, column: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result? {
        if PQgetisnull(result, row, column) != 0 { return nil }
        let length = Int(PQgetlength(result, row, column))
        return try PQgetvalue(result, row, column).withMemoryRebound(to: UInt8.self, capacity: length) {
            try body(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    func columnIndex(_ name: String) throws(PostgresError) -> Int32 {
        guard let index = columns.firstIndex(of: name) else {
            throw PostgresError(code: .unexpectedResult, message: "the result has no column \"\(name)\" (it has \(columns.joined(separator: ", ")))", statement: statement)
        }
        return Int32(index)
    }
}

/// One row of a `PostgresRows`; values decode on demand to the Swift type asked for.
public struct PostgresRow: Sendable {
    let rows: PostgresRows
    let index: Int32

    /// The raw text of a column (PostgreSQL's text output format), nil for NULL.
    public func text(_ column: Int) -> String? {
        rows.text(row: index, column: Int32(column))
    }

    /// The raw bytes of a column's text, nil for NULL: for readers of many rows, which parse numbers from them
    /// without making a `String` of each (the relay reads 35 columns of every fact it sends).
    public func withTextBytes<Result>(_ column: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result? {
        try rows.withTextBytes(row: index, column: Int32(column), body)
    }

    /// An integer column read from its bytes (`withTextBytes`), nil for NULL.
    public func integer(_ column: Int) throws(PostgresError) -> Int64? {
        let parsed: Int64?? = withTextBytes(column) { DecimalDigits.parseSigned(utf8: $0) }
        guard let parsed else { return nil }
        guard let parsed else {
            throw PostgresError(code: .unexpectedResult, message: "column \(rows.columns[column]) holds \(text(column) ?? "") where an integer was expected", statement: rows.statement)
        }
        return parsed
    }

    /// Whether a column is NULL, without reading its value.
    public func isNull(_ column: Int) -> Bool {
        PQgetisnull(rows.result, index, Int32(column)) != 0
    }

    public func decode<Value: PostgresDecodable>(_ type: Value.Type = Value.self, _ column: Int) throws(PostgresError) -> Value {
        guard let text = text(column) else {
            throw PostgresError(code: .unexpectedResult, message: "column \(rows.columns[column]) is NULL where \(Value.self) was expected", statement: rows.statement)
        }
        return try decodeText(text, as: Value.self, column: column)
    }

    public func decode<Value: PostgresDecodable>(_ type: Value?.Type, _ column: Int) throws(PostgresError) -> Value? {
        guard let text = text(column) else { return nil }
        return try decodeText(text, as: Value.self, column: column)
    }

    public func decode<Value: PostgresDecodable>(_ type: Value.Type = Value.self, _ column: String) throws(PostgresError) -> Value {
        try decode(Value.self, Int(rows.columnIndex(column)))
    }

    public func decode<Value: PostgresDecodable>(_ type: Value?.Type, _ column: String) throws(PostgresError) -> Value? {
        try decode(Value?.self, Int(rows.columnIndex(column)))
    }

    private func decodeText<Value: PostgresDecodable>(_ text: String, as: Value.Type, column: Int) throws(PostgresError) -> Value {
        guard let value = Value(postgresText: text) else {
            // The value itself is left out: it may be personal data.
            throw PostgresError(code: .unexpectedResult, message: "column \(rows.columns[column]) does not decode as \(Value.self)", statement: rows.statement)
        }
        return value
    }
}

/// A Swift type that can be read from PostgreSQL's text output format.
public protocol PostgresDecodable: Sendable {
    init?(postgresText: String)
}

extension String: PostgresDecodable {
    public init?(postgresText: String) { self = postgresText }
}

extension Int: PostgresDecodable {
    public init?(postgresText: String) { self.init(postgresText, radix: 10) }
}

extension Int64: PostgresDecodable {
    public init?(postgresText: String) { self.init(postgresText, radix: 10) }
}

extension Int32: PostgresDecodable {
    public init?(postgresText: String) { self.init(postgresText, radix: 10) }
}

extension Bool: PostgresDecodable {
    public init?(postgresText: String) {
        switch postgresText {
        case "t": self = true
        case "f": self = false
        default: return nil
        }
    }
}

/// `bytea` in the server's default hex output (`\x0a1b…`).
extension Data: PostgresDecodable {
    public init?(postgresText: String) {
        guard postgresText.hasPrefix("\\x"), let bytes = Hex.decode(postgresText.dropFirst(2)) else { return nil }
        self.init(bytes)
    }
}
