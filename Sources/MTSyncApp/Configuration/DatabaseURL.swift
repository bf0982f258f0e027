import Foundation

/// The database connection string from the configuration file or `MTSYNC_DATABASE_URL`, in either form libpq
/// accepts (`postgresql://user@host/db?…` or `host=… dbname=…`). It prints with any password masked; the
/// connection string itself is handed out only by `connectionString`, for passing to the store.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let connectionString: String

    public init(_ connectionString: String) { self.connectionString = connectionString }

    /// The connection string with every password replaced by `***`.
    public var description: String { Self.masked(connectionString) }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["masked": description], displayStyle: .struct) }

    /// True for a `postgres://` / `postgresql://` URL or a `keyword=value` string; libpq has the last word.
    var looksValid: Bool {
        let lower = connectionString.lowercased()
        if lower.hasPrefix("postgresql://") || lower.hasPrefix("postgres://") { return true }
        return connectionString.contains("=")
    }

    /// Masks `scheme://user:PASSWORD@`, `password=PASSWORD` (URL query or keyword form, quoted or not).
    static func masked(_ text: String) -> String {
        var result = text
        if let scheme = result.range(of: "://") {
            let authorityEnd = result[scheme.upperBound...].firstIndex(where: { $0 == "/" || $0 == "?" }) ?? result.endIndex
            if let at = result[scheme.upperBound..<authorityEnd].lastIndex(of: "@"),
                let colon = result[scheme.upperBound..<at].firstIndex(of: ":")
            {
                result.replaceSubrange(result.index(after: colon)..<at, with: "***")
            }
        }
        var searchStart = result.startIndex
        while let keyword = result.range(of: "password", options: .caseInsensitive, range: searchStart..<result.endIndex) {
            var index = keyword.upperBound
            while index < result.endIndex, result[index] == " " { index = result.index(after: index) }
            guard index < result.endIndex, result[index] == "=" else {
                searchStart = keyword.upperBound
                continue
            }
            index = result.index(after: index)
            while index < result.endIndex, result[index] == " " { index = result.index(after: index) }
            var end = index
            if end < result.endIndex, result[end] == "'" {
                end = result.index(after: end)
                while end < result.endIndex, result[end] != "'" {
                    if result[end] == "\\" { end = result.index(after: end) }
                    if end < result.endIndex { end = result.index(after: end) }
                }
                if end < result.endIndex { end = result.index(after: end) }
            } else {
                while end < result.endIndex, result[end] != " ", result[end] != "&" { end = result.index(after: end) }
            }
            let replaced = result.distance(from: result.startIndex, to: index) + 3
            result.replaceSubrange(index..<end, with: "***")
            searchStart = result.index(result.startIndex, offsetBy: replaced)
        }
        return result
    }
}
