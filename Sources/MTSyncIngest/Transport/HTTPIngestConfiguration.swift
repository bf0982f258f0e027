import struct Foundation.URL

/// Where and how the HTTP data-ingest sink posts (docs/ingest.md, "HTTP data-ingest"). Validated when the sink is
/// made; prints without its secret or credential value.
public struct HTTPIngestConfiguration: Sendable, CustomStringConvertible, CustomReflectable {
    /// The absolute http(s) URL every message is POSTed to.
    public var url: String
    /// The HMAC-SHA256 key of `X-Mtsync-Signature`.
    public var secret: HTTPIngestSecret
    /// An extra access header (bearer token or API key), if the ingest wants one.
    public var credential: HTTPIngestCredential?
    /// From sending a request to the end of its response; past it the message is retried. Keep it above the
    /// ingest's worst normal answer time: a timeout after the ingest accepted the message means a resend, which
    /// the ingest absorbs by `Idempotency-Key`, but wastes a round.
    public var requestTimeout: Duration
    /// The largest body posted; a larger message is refused without being sent.
    public var maximumMessageBytes: Int
    /// Requests in flight at once within one `deliver` call; also the connection pool's size for the host, so no
    /// request waits for a connection and has its timeout eaten by the wait.
    public var maximumConcurrentRequests: Int
    /// How much of a refusal's response body is kept for the dead-letter record.
    public var maximumResponseBytes: Int
    /// The longest `Retry-After` passed on; an ingest asking for more is asked again after this.
    public var maximumRetryAfter: Duration

    public init(
        url: String,
        secret: HTTPIngestSecret,
        credential: HTTPIngestCredential? = nil,
        requestTimeout: Duration = .seconds(30),
        maximumMessageBytes: Int = 1 << 20,
        maximumConcurrentRequests: Int = 8,
        maximumResponseBytes: Int = 4 << 10,
        maximumRetryAfter: Duration = .seconds(3_600)
    ) {
        self.url = url
        self.secret = secret
        self.credential = credential
        self.requestTimeout = requestTimeout
        self.maximumMessageBytes = maximumMessageBytes
        self.maximumConcurrentRequests = maximumConcurrentRequests
        self.maximumResponseBytes = maximumResponseBytes
        self.maximumRetryAfter = maximumRetryAfter
    }

    /// Checks every value; the first problem found, said so it can be fixed.
    public func validate() throws(HTTPIngestError) {
        try IngestURL.validate(
            url, what: "the HTTP ingest URL", example: "https://ingest.example.com/v1/trading-facts",
            credentialsAdvice: "configure a bearer token or API-key header instead")
        guard requestTimeout > .zero else {
            throw HTTPIngestError(code: .invalidConfiguration, message: "the HTTP ingest request timeout is \(requestTimeout); it must be positive (30 s is a sound default)")
        }
        guard maximumMessageBytes > 0 else {
            throw HTTPIngestError(code: .invalidConfiguration, message: "the HTTP ingest maximum message size is \(maximumMessageBytes) bytes; it must be positive (default 1 MiB)")
        }
        guard (1...256).contains(maximumConcurrentRequests) else {
            throw HTTPIngestError(code: .invalidConfiguration, message: "the HTTP ingest concurrency is \(maximumConcurrentRequests); it must be between 1 and 256 (default 8)")
        }
        guard maximumResponseBytes >= 0, maximumRetryAfter >= .zero else {
            throw HTTPIngestError(code: .invalidConfiguration, message: "the HTTP ingest response-size and Retry-After limits must not be negative")
        }
    }

    /// The URL without user info, query or fragment: what logs and errors show (a query may carry an API key).
    public var redactedURL: String { IngestURL.redacted(url) }

    /// What `dump` and reflection show: the redacted URL (a query may carry an API key), never the secret.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "url": redactedURL, "secret": secret, "credential": credential as Any, "requestTimeout": requestTimeout,
            "maximumMessageBytes": maximumMessageBytes, "maximumConcurrentRequests": maximumConcurrentRequests,
        ], displayStyle: .struct)
    }

    public var description: String {
        "HTTPIngestConfiguration(url: \(redactedURL), secret: \(secret), credential: \(credential.map(String.init(describing:)) ?? "none"), "
            + "requestTimeout: \(requestTimeout), maximumMessageBytes: \(maximumMessageBytes), maximumConcurrentRequests: \(maximumConcurrentRequests))"
    }
}
