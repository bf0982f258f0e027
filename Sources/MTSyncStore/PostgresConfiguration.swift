import CLibPQ
import Foundation

/// Where and how to connect to PostgreSQL: a libpq connection string, in either form libpq accepts —
/// a URL (`postgresql://user:secret@db.example:5432/mtsync?sslmode=verify-full`) or keywords
/// (`host=db.example dbname=mtsync sslmode=require`). An empty string means "libpq defaults", i.e. the `PG*`
/// environment variables (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGSSLMODE`, `PGSERVICE`, …), the
/// service file and the password file, exactly as `psql` resolves them.
///
/// Its `description` never contains the password; `secrets` lists what error texts must be scrubbed of.
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
    /// The connection string as given. Never print it: use `description`.
    public let connectionString: String
    /// Keywords applied on top of the connection string (later wins in libpq), e.g. `["dbname": "other"]`.
    public let overrides: [(keyword: String, value: String)]
    /// Name shown in `pg_stat_activity` unless the connection string sets `application_name`.
    public let applicationName: String

    /// Parsed keywords, for display and for finding the password. Nil when libpq cannot parse the string;
    /// connecting then fails with libpq's own explanation.
    let parsed: [String: String]?
    let parseError: String?

    public init(connectionString: String, overrides: [(keyword: String, value: String)] = [], applicationName: String = "mtsync") {
        self.connectionString = connectionString
        self.overrides = overrides
        self.applicationName = applicationName
        (self.parsed, self.parseError) = Self.parse(connectionString)
    }

    /// Secret values that must never appear in any text mtsync prints: the password given in the connection
    /// string or overrides, and `PGPASSWORD`. Error texts from libpq and PostgreSQL are scrubbed of them.
    var secrets: [String] {
        var found: [String] = []
        if let password = parsed?["password"], !password.isEmpty { found.append(password) }
        if parsed == nil { found += Self.passwordsGuessed(fromUnparseable: connectionString) }
        for override in overrides where override.keyword == "password" && !override.value.isEmpty {
            found.append(override.value)
        }
        if let fromEnvironment = getenv("PGPASSWORD").map({ String(cString: $0) }), !fromEnvironment.isEmpty {
            found.append(fromEnvironment)
        }
        return found
    }

    /// `host=… port=… dbname=… user=…` with the password left out; what logs and errors show.
    public var description: String {
        guard let parsed else { return "(unparseable connection string: \(parseError ?? "unknown error"))" }
        var effective = parsed
        for override in overrides { effective[override.keyword] = override.value }
        let shown = ["host", "hostaddr", "port", "dbname", "user", "sslmode", "service"].compactMap { keyword in
            effective[keyword].map { "\(keyword)=\($0)" }
        }
        let text = shown.isEmpty ? "libpq defaults (PG* environment)" : shown.joined(separator: " ")
        return PostgresError.scrub(text, secrets: secrets)
    }

    /// The connection option libpq's error `message` refuses, nil when the message is about reaching or entering
    /// a server. libpq checks option values (`sslmode`, `gssencmode`, `channel_binding`, `target_session_attrs`,
    /// the TLS protocol versions, `port`, the integers) after parsing, inside `PQconnectdb`, so a bad value fails the
    /// same call as an unreachable server; only its wording tells them apart. These are libpq's own messages
    /// (fe-connect.c), each naming the option; the process runs them untranslated unless LC_MESSAGES says otherwise.
    public static func refusedOption(in message: String) -> String? {
        func quoted(after marker: String) -> String? {
            guard let start = message.range(of: marker) else { return nil }
            let rest = message[start.upperBound...]
            guard let end = rest.firstIndex(of: "\"") else { return nil }
            return String(rest[..<end])
        }
        // invalid connection option "bogus" / invalid URI query parameter: "bogus"
        if let option = quoted(after: "invalid connection option \"") ?? quoted(after: "invalid URI query parameter: \"") { return option }
        // invalid integer value "abc" for connection option "port" (also keepalives, connect_timeout, …)
        if message.contains("invalid integer value \""), let option = quoted(after: "for connection option \"") { return option }
        if message.contains("invalid port number") { return "port" }
        if message.contains("could not match "), message.contains(" host") { return "host" }
        if message.contains("invalid SSL protocol version range") { return "ssl_min_protocol_version" }
        // invalid sslmode value: "bogus" / sslmode value "require" invalid when SSL support is not compiled in
        for pattern in [#"invalid ([a-z_]+) value: ""#, #"([a-z_]+) value "[^"]*" invalid when"#] {
            if let match = message.firstMatch(of: try! Regex<(Substring, Substring)>(pattern)) { return String(match.1) }
        }
        return nil
    }

    /// When libpq cannot parse the string it cannot tell us the password either, yet its error may quote the
    /// string: take whatever sits where a password would (`scheme://user:PASSWORD@` or `password=PASSWORD`).
    static func passwordsGuessed(fromUnparseable text: String) -> [String] {
        var guesses: [String] = []
        if let schemeEnd = text.range(of: "://") {
            let authority = text[schemeEnd.upperBound...].prefix { $0 != "/" && $0 != "?" }
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                let password = authority[authority.index(after: colon)..<at]
                if !password.isEmpty { guesses.append(String(password)) }
            }
        }
        var rest = Substring(text)
        while let keyword = rest.range(of: "password=") {
            let value = rest[keyword.upperBound...].prefix { !$0.isWhitespace && $0 != "&" }
            if !value.isEmpty { guesses.append(String(value)) }
            rest = rest[keyword.upperBound...]
        }
        return guesses
    }

    private static func parse(_ connectionString: String) -> ([String: String]?, String?) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(connectionString, &errorMessage) else {
            defer { if let errorMessage { PQfreemem(errorMessage) } }
            let message = errorMessage.map { String(cString: $0) } ?? "libpq could not parse the connection string"
            return (nil, message.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        defer { PQconninfoFree(options) }
        var values: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { values[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        return (values, nil)
    }
}
