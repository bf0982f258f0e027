import NIOSSL

/// TLS for the bridge connection (bridge-protocol/README.md §1): the bridge's certificate is verified against
/// `caFile` (or the system's roots), including its host name; a client certificate is presented when the
/// bridge requires mutual TLS. TLS 1.2 at least.
public struct BridgeTLS: Sendable, Hashable {
    /// PEM file of the CA(s) that signed the bridge's certificate; nil: the system's trust store.
    public var caFile: String?
    /// PEM certificate chain and private key mtsync presents, for bridges that require client certificates.
    public var clientCertificateFile: String?
    public var clientKeyFile: String?
    /// The name the bridge's certificate must carry; nil: the endpoint's host.
    public var serverName: String?

    public init(caFile: String? = nil, clientCertificateFile: String? = nil, clientKeyFile: String? = nil, serverName: String? = nil) {
        self.caFile = caFile
        self.clientCertificateFile = clientCertificateFile
        self.clientKeyFile = clientKeyFile
        self.serverName = serverName
    }

    func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        if let caFile { configuration.trustRoots = .file(caFile) }
        if let clientCertificateFile, let clientKeyFile {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(clientCertificateFile).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: clientKeyFile, format: .pem))
        }
        return try NIOSSLContext(configuration: configuration)
    }
}

/// The simulator's side of TLS: its certificate and key, and optionally the CA client certificates must chain
/// to (mutual TLS).
public struct ServerTLS: Sendable, Hashable {
    public var certificateFile: String
    public var keyFile: String
    public var clientCAFile: String?

    public init(certificateFile: String, keyFile: String, clientCAFile: String? = nil) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
    }

    public func makeContext() throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { NIOSSLCertificateSource.certificate($0) }
        let key = NIOSSLPrivateKeySource.privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
        var configuration: TLSConfiguration
        if let clientCAFile {
            configuration = .makeServerConfigurationWithMTLS(certificateChain: chain, privateKey: key, trustRoots: .file(clientCAFile))
        } else {
            configuration = .makeServerConfiguration(certificateChain: chain, privateKey: key)
        }
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }
}
