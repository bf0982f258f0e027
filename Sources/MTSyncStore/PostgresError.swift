import Foundation
/// Everything that can go wrong talking to PostgreSQL, as one value an operator can act on: what failed
/// (`code`), PostgreSQL's own diagnosis (SQLSTATE, message, detail, hint, constraint) and which of our
/// statements it was. It never carries the password: every text is scrubbed of the configured secrets before
/// it is stored here.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; decides what the caller (and the CLI's exit code) does next.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }

        /// Could not open a connection (server down, wrong host, authentication failed).
        public static let connectionFailed = Code("connection failed")
        /// libpq refused the connection settings themselves before trying any server: an unknown keyword or URL
        /// query parameter, a value it does not accept (`sslmode=bogus`, `port=abc`), a string it cannot parse.
        /// No retry can fix it: the database URL (or a `PG*` variable) must change.
        public static let invalidConnectionOption = Code("invalid connection option")
        /// The connection broke during use (server restarted, network dropped). The next use reconnects.
        public static let connectionLost = Code("connection lost")
        /// The server rejected a statement; see `sqlState`.
        public static let statementFailed = Code("statement failed")
        /// A COPY could not be completed.
        public static let copyFailed = Code("copy failed")
        /// The fact table has no partition for a month a page needs: its partitions end too soon (migration 0012).
        /// Upkeep (`mtsync migrate` as the database owner) makes them; the page is stored after that.
        public static let noPartition = Code("no partition for the month")
        /// A result did not have the shape or type the caller expected.
        public static let unexpectedResult = Code("unexpected result")

        public var description: String { name }
    }

    public var code: Code
    /// Five-character SQLSTATE (e.g. `23505` unique violation, `40001` serialization failure), when the server
    /// sent one.
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    /// The constraint a violation names (e.g. `fact_identities_server_id_ticket_leg_key`).
    public var constraint: String?
    /// Our name for the statement that failed (e.g. `migrate 0002_outbox_index.sql`), when it has one.
    public var statement: String?

    public init(
        code: Code, message: String, sqlState: String? = nil, detail: String? = nil, hint: String? = nil,
        constraint: String? = nil, statement: String? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.statement = statement
    }

    /// Worth trying again later without changing anything: the connection went away, or the server asked us
    /// to retry (serialization failure, deadlock, lock timeout, shutting down, too many connections).
    public var isTransient: Bool {
        if code == .connectionLost || code == .connectionFailed { return true }
        guard let sqlState else { return false }
        // Class 08: connection exception; 40001/40P01: serialization failure / deadlock; 55P03: lock not
        // available; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now; 53300: too many connections.
        return sqlState.hasPrefix("08") || ["40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300"].contains(sqlState)
    }

    public var description: String {
        var text = "PostgreSQL \(code)"
        if let statement { text += " in \(statement)" }
        text += ": \(message)"
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let constraint { text += " [constraint \(constraint)]" }
        if let detail { text += ". Detail: \(detail)" }
        if let hint { text += ". Hint: \(hint)" }
        switch code {
        case .connectionFailed:
            text += ". Check the database URL (--database-url, MTSYNC_DATABASE_URL or the PG* variables) and that the server is up"
        case .invalidConnectionOption:
            text += ". Fix the database URL (database.url, --database-url, MTSYNC_DATABASE_URL or the PG* variables): libpq refused it before connecting"
        case .connectionLost:
            text += ". The connection will be re-opened on the next use"
        default:
            break
        }
        return text
    }

    /// Replaces each secret in `text` with `***`. Applied to every text taken from libpq or the server, since
    /// libpq may echo parts of a connection string and a server may echo a statement's parameters.
    static func scrub(_ text: String, secrets: [String]) -> String {
        var scrubbed = text
        for secret in secrets where !secret.isEmpty {
            scrubbed = scrubbed.replacingOccurrences(of: secret, with: "***")
            // URLs carry the password percent-encoded; scrub that spelling too.
            if let encoded = secret.addingPercentEncoding(withAllowedCharacters: urlUnreserved), encoded != secret {
                scrubbed = scrubbed.replacingOccurrences(of: encoded, with: "***")
            }
        }
        return scrubbed
    }

    func scrubbed(of secrets: [String]) -> PostgresError {
        var copy = self
        copy.message = Self.scrub(message, secrets: secrets)
        copy.detail = detail.map { Self.scrub($0, secrets: secrets) }
        copy.hint = hint.map { Self.scrub($0, secrets: secrets) }
        return copy
    }
}

/// RFC 3986 unreserved characters: everything else in a URL's password is percent-encoded.
private let urlUnreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
