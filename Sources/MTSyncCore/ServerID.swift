/// The operator-chosen name of a MetaTrader trade server inside mtsync (e.g. `live-mt5-eu`).
///
/// It appears in idempotency keys (`server:identity:revision`), log metadata, metric labels and database rows,
/// so it is restricted to a safe alphabet: letters, digits, `_`, `.` and `-`, starting with a letter or digit,
/// at most 64 characters. The same rule is enforced by a CHECK constraint on `servers.server_id`.
public struct ServerID: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) throws(ServerIDError) {
        guard Self.isValid(rawValue) else { throw ServerIDError(rejected: rawValue) }
        self.rawValue = rawValue
    }

    public static func isValid(_ candidate: String) -> Bool {
        let scalars = candidate.unicodeScalars
        guard let first = scalars.first, scalars.count <= 64, isAlphanumeric(first) else { return false }
        return scalars.allSatisfy { isAlphanumeric($0) || $0 == "_" || $0 == "." || $0 == "-" }
    }

    private static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }

    public var description: String { rawValue }

    public static func < (lhs: ServerID, rhs: ServerID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(raw)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

public struct ServerIDError: Error, Sendable, Equatable, CustomStringConvertible {
    public let rejected: String

    public var description: String {
        "server id \(String(reflecting: rejected)) is not valid: use 1 to 64 letters, digits, '_', '.' or '-', "
            + "starting with a letter or digit"
    }
}
