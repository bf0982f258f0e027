import MTSyncCore

/// Where a bridge listens and how to authenticate to it.
public struct BridgeEndpoint: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var key: BridgeKey
    public var connectTimeout: Duration
    /// Longest from connected to `welcome`: a peer that never finishes the handshake (or is not a bridge at all)
    /// cannot hold the server's sync.
    public var handshakeTimeout: Duration
    /// Longest wait for each whole line during the handshake or a response (bridges send `progress` every 15 s
    /// while working). Bytes that never form a line do not count: a bridge sending one byte every few seconds
    /// times out like a silent one.
    public var readTimeout: Duration
    /// Longest a request may take from sent to `end`, however busy the bridge says it is: a bridge that sends
    /// `progress` forever would otherwise hold the server's sync forever.
    public var requestTimeout: Duration
    /// TLS settings; nil for plain TCP (only on a trusted network: the handshake still protects the key).
    public var tls: BridgeTLS?

    /// The deadlines' defaults (bridge-protocol §5), which the configuration file documents.
    public static let defaultConnectTimeout = Duration.seconds(10)
    public static let defaultReadTimeout = Duration.seconds(60)
    public static let defaultRequestTimeout = Duration.seconds(600)
    public static let defaultHandshakeTimeout = Duration.seconds(30)

    public init(
        host: String, port: Int, key: BridgeKey, tls: BridgeTLS? = nil, connectTimeout: Duration = Self.defaultConnectTimeout,
        readTimeout: Duration = Self.defaultReadTimeout, requestTimeout: Duration = Self.defaultRequestTimeout,
        handshakeTimeout: Duration = Self.defaultHandshakeTimeout
    ) {
        self.handshakeTimeout = handshakeTimeout
        self.host = host
        self.port = port
        self.key = key
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.requestTimeout = requestTimeout
    }

    public var description: String { "\(host):\(port)\(tls == nil ? "" : " over TLS") (key \(key.id))" }
}
