import MTSyncCore

/// How a session reaches PostgreSQL: through a local socket, over TCP with TLS, or over plain TCP.
public enum PostgresTransport: Sendable, Hashable, CustomStringConvertible {
    case localSocket
    case tls(host: String, protocolVersion: String?)
    case plainTCP(host: String)

    public var description: String {
        switch self {
        case .localSocket: "local socket"
        case .tls(_, let version): "TLS" + (version.map { " (\($0))" } ?? "")
        case .plainTCP: "plain TCP, not encrypted"
        }
    }

    /// Plain TCP to another machine: the password exchange (unless SCRAM), every deal and every customer id
    /// cross the network readable. Loopback is left alone: it never leaves the host.
    public var exposesTraffic: Bool {
        guard case .plainTCP(let host) = self else { return false }
        return !LoopbackHost.contains(host)
    }

    /// What an operator should do about `exposesTraffic`.
    public static let advice =
        "the database connection is plain TCP to another host (libpq's default sslmode=prefer fell back to no TLS): add sslmode=verify-full and sslrootcert to the database URL (docs/security.md, Database)"
}
