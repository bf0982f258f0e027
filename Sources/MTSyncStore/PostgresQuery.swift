import Foundation
import MTSyncCore

/// A SQL statement with its parameters bound, never spliced: interpolated values become `$1`, `$2`, … and
/// travel separately to the server (`PQexecParams`), so no value can change the statement's meaning.
///
///     let query: PostgresQuery = "SELECT count(*) FROM trading_facts WHERE server_id = \(serverID)"
///     // sql: "SELECT count(*) FROM trading_facts WHERE server_id = $1", parameters: ["live-mt5"]
///
/// Identifiers (table names) cannot be parameters; `\(identifier: name)` quotes one safely.
public struct PostgresQuery: Sendable, Hashable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public var sql: String
    /// Parameters in text format; `nil` is SQL NULL.
    public var parameters: [String?]

    public init(sql: String, parameters: [String?] = []) {
        self.sql = sql
        self.parameters = parameters
    }

    public init(stringLiteral value: String) {
        self.init(sql: value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(sql: stringInterpolation.sql, parameters: stringInterpolation.parameters)
    }

    /// The SQL only: parameters may hold secrets or personal data and are never printed.
    public var description: String { sql }

    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var parameters: [String?] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
            parameters.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            parameters.append(value.postgresText)
            sql += "$\(parameters.count)"
        }

        public mutating func appendInterpolation(_ value: (some PostgresEncodable)?) {
            parameters.append(value?.postgresText)
            sql += "$\(parameters.count)"
        }

        /// Splices a fragment of mtsync's own constant SQL (a column list, a condition), never a value: values
        /// always go through `appendInterpolation(_:)` as parameters. Internal to the store for that reason.
        mutating func appendInterpolation(unsafeSQL fragment: String) {
            sql += fragment
        }

        /// A double-quoted SQL identifier, for names that cannot be parameters.
        public mutating func appendInterpolation(identifier: String) {
            sql += "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
    }
}

/// A Swift value that can be sent as a query parameter in PostgreSQL's text format.
public protocol PostgresEncodable: Sendable {
    var postgresText: String { get }
}

extension String: PostgresEncodable {
    public var postgresText: String { self }
}

extension Substring: PostgresEncodable {
    public var postgresText: String { String(self) }
}

extension Int: PostgresEncodable {
    public var postgresText: String { String(self) }
}

extension Int64: PostgresEncodable {
    public var postgresText: String { String(self) }
}

extension Int32: PostgresEncodable {
    public var postgresText: String { String(self) }
}

extension Int16: PostgresEncodable {
    public var postgresText: String { String(self) }
}

extension Bool: PostgresEncodable {
    public var postgresText: String { self ? "t" : "f" }
}

/// `bytea` in hex form (`\x0a1b…`), which the server accepts for any `bytea` parameter.
extension Data: PostgresEncodable {
    public var postgresText: String {
        "\\x" + Hex.encode(self)
    }
}

/// Constant SQL fragments the store splices with `\(unsafeSQL:)`.
enum SQLFragment {
    /// A `timestamptz` column as whole milliseconds since 1970 (NULL stays NULL), for `Int64` decoding.
    static func epochMilliseconds(_ column: String) -> String {
        "floor(extract(epoch FROM \(column)) * 1000)::bigint"
    }
}

/// A one-dimensional array parameter (cast it in SQL: `$1::text[]`, `$2::bigint[]`): every element quoted and
/// escaped, nil as NULL, so any text survives intact.
public struct PostgresArray: PostgresEncodable, Sendable {
    public var elements: [String?]

    public init(_ elements: [String?]) { self.elements = elements }
    public init(_ values: [some PostgresEncodable]) { elements = values.map(\.postgresText) }

    public var postgresText: String {
        var text = "{"
        for (index, element) in elements.enumerated() {
            if index > 0 { text += "," }
            guard let element else { text += "NULL"; continue }
            text += "\""
            for character in element {
                if character == "\"" || character == "\\" { text += "\\" }
                text.append(character)
            }
            text += "\""
        }
        return text + "}"
    }
}
