import MTSyncBridge
/// How mtsync reaches a server's export bridge over TCP (bridge-protocol/README.md §1–2), as the file says it: the
/// key stays a non-printing `BridgeSecret` and TLS stays file paths until the bootstrap builds the transport's
/// `BridgeEndpoint` from them (`SyncBootstrap.bridgeClient`), so no key material sits in a value that is printed,
/// compared or dumped. The deadlines' defaults are the transport's.
public struct BridgeSettings: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// The key id the bridge knows the key by.
    public var keyID: String
    /// Read from `key_file` or the `key_env` variable when the configuration was loaded.
    public var key: BridgeSecret
    /// Nil: plain TCP. Present (even with every file left out): TLS, verified against the system's roots.
    public var tls: TLSFiles?
    public var connectTimeout: Duration
    public var readTimeout: Duration
    /// The longest one request may take, `progress` lines or not.
    public var requestTimeout: Duration
    /// The longest from connected to `welcome`.
    public var handshakeTimeout: Duration = BridgeEndpoint.defaultHandshakeTimeout
    /// How long a one-shot command (sync, backfill, reconcile, accounts sync) keeps retrying a bridge that fails
    /// before it exits 75; the daemon instead fails the pull after a few attempts, shows FAILING, and polls again later.
    public var giveUpAfter: Duration = BridgeClient.RetryPolicy.standardGiveUpAfter

    public init(
        host: String, port: Int, keyID: String, key: BridgeSecret, tls: TLSFiles?, connectTimeout: Duration, readTimeout: Duration,
        requestTimeout: Duration = BridgeEndpoint.defaultRequestTimeout
    ) {
        self.host = host
        self.port = port
        self.keyID = keyID
        self.key = key
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.requestTimeout = requestTimeout
    }

    /// `host:port`, with brackets around an IPv6 address.
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// TLS files for a bridge connection; paths are absolute (relative ones were resolved against the
/// configuration file's folder) and were readable when the configuration was loaded.
public struct TLSFiles: Sendable, Hashable {
    /// PEM CA bundle the bridge's certificate must chain to; nil: the system's trust store.
    public var caFile: String?
    /// Client certificate chain and key (PEM), for bridges that require mutual TLS; both or neither.
    public var certFile: String?
    public var keyFile: String?
    /// The name the bridge's certificate must carry; nil: the address's host.
    public var serverName: String?

    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.serverName = serverName
    }
}
