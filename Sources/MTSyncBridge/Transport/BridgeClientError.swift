import MTSyncCore
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    /// How the connection failed, said where it failed (the `code` label of `mtsync_bridge_errors_total`).
    public enum Transport: String, Sendable, Hashable {
        case connectFailed = "connect_failed"
        case tls
        case timeout
        case connectionClosed = "connection_closed"
        /// Any other transport failure, and a protocol violation found by the client.
        case other = "transport"

        /// A channel error as the transport cause it is: the peer closed or reset the connection, or something else.
        public static func of(_ error: any Error) -> Transport {
            if let error = error as? ChannelError {
                switch error {
                case .ioOnClosedChannel, .alreadyClosed, .eof, .outputClosed, .inputClosed: return .connectionClosed
                case .connectTimeout: return .timeout
                default: return .other
                }
            }
            if let error = error as? IOError, [ECONNRESET, EPIPE, ECONNABORTED].contains(error.errnoCode) { return .connectionClosed }
            if let error = error as? IOError, error.errnoCode == ETIMEDOUT { return .timeout }
            return .other
        }
    }

    public let endpoint: String
    public let kind: Kind
    /// Set for failures of the connection itself; nil when the bridge answered with an error.
    public let transport: Transport?
    public let retryable: Bool
    public let reason: String
    /// The protocol error behind it, when there is one.
    public let protocolError: BridgeProtocolError?

    public init(endpoint: String, kind: Kind? = nil, transport: Transport? = nil, retryable: Bool, reason: String, protocolError: BridgeProtocolError?) {
        self.endpoint = endpoint
        self.transport = transport
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
