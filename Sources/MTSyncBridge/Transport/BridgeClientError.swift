import MTSyncCore

/// Why talking to a bridge failed, with what to do: `retryable` failures (connection refused or dropped,
/// timeouts, the bridge's retryable errors) are worth another attempt later; the others need a person
/// (wrong key, unsupported version, a protocol violation).
public struct BridgeClientError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure, for retry budgets and exit codes.
    public enum Kind: String, Sendable, Hashable {
        /// Cannot connect, or the connection dropped.
        case unreachable
        /// A deadline passed: the handshake, a line or a whole request took too long.
        case timeout
        /// The bridge answered `error` (its code in `protocolError`).
        case bridgeError
        /// The bridge broke the protocol: what it sent cannot be read or makes no sense. A bridge bug, retried a
        /// few times (it may have been a glitch) and then reported.
        case protocolViolation
        /// Needs a person to change settings: TLS files, the key, the version.
        case configuration
    }

    public let endpoint: String
    public let kind: Kind
    public let retryable: Bool
    public let reason: String
    /// The protocol error behind it, when there is one.
    public let protocolError: BridgeProtocolError?

    public init(endpoint: String, kind: Kind? = nil, retryable: Bool, reason: String, protocolError: BridgeProtocolError?) {
        self.endpoint = endpoint
        self.retryable = retryable
        self.reason = reason
        self.protocolError = protocolError
        self.kind = kind ?? protocolError.map(Self.kind(of:)) ?? .protocolViolation
    }

    static func kind(of error: BridgeProtocolError) -> Kind {
        switch error.code {
        case .unsupportedVersion, .bridgeNotAuthenticated, .remote("auth_failed"), .remote("unsupported_version"): .configuration
        case .malformed, .unexpected, .lineTooLong: .protocolViolation
        default: .bridgeError
        }
    }

    public var description: String { "bridge \(endpoint): \(reason)" }
}
