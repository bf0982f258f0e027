import MTSyncIngest
import Testing

@Suite("HTTP ingest configuration: validated when made, and never prints its secret or credential")
struct HTTPIngestConfigurationTests {
    static let secretText = "s3cr3t-signing-key-0123456789abcdef"
    static let tokenText = "tok-ABCDEF0123456789"

    static func configuration(
        url: String = "https://ingest.example.com/v1/trading-facts", credential: HTTPIngestCredential? = nil
    ) throws -> HTTPIngestConfiguration {
        HTTPIngestConfiguration(url: url, secret: try HTTPIngestSecret(secretText), credential: credential)
    }

    /// Every way a value can end up in a log: description, interpolation, debug description and `dump`.
    static func printed(_ value: some Any) -> [String] {
        var dumped = ""
        dump(value, to: &dumped)
        return [String(describing: value), "\(value)", String(reflecting: value), dumped]
    }

    // MARK: Validation

    @Test("the defaults with an https or http URL are valid", arguments: [
        "https://ingest.example.com/v1/trading-facts", "http://127.0.0.1:8080/ingest", "HTTPS://ingest.example.com", "https://[::1]:8443/",
    ])
    func validConfiguration(url: String) throws {
        let configuration = try Self.configuration(url: url)
        #expect(throws: Never.self) { try configuration.validate() }
        #expect(configuration.requestTimeout == .seconds(30))
        #expect(configuration.maximumMessageBytes == 1 << 20)
        #expect(configuration.maximumConcurrentRequests == 8)
    }

    @Test("a URL that is not an absolute http(s) URL with a host is refused", arguments: [
        "", "ingest.example.com/v1", "/v1/trading-facts", "ftp://ingest.example.com/v1", "file:///tmp/ingest", "https://", "mailto:ops@example.com",
    ])
    func invalidURL(url: String) throws {
        let error = try #require(throws: HTTPIngestError.self) { try Self.configuration(url: url).validate() }
        #expect(error.code == .invalidURL)
        #expect(error.message.contains("is not an absolute http:// or https:// URL with a host"))
    }

    @Test("a URL carrying a user name or password is refused, and the error does not repeat the password", arguments: [
        "https://ops:hunter2-password@ingest.example.com/v1", "https://hunter2-password@ingest.example.com/v1",
    ])
    func credentialsInURL(url: String) throws {
        let error = try #require(throws: HTTPIngestError.self) { try Self.configuration(url: url).validate() }
        #expect(error.code == .invalidURL)
        #expect(error.message.contains("carries a user name or password"))
        #expect(!error.description.contains("hunter2"))
    }

    enum Limit: String, CaseIterable, Sendable {
        case zeroTimeout, negativeTimeout, zeroMessageBytes, noConcurrency, tooMuchConcurrency, negativeResponseBytes, negativeRetryAfter
    }

    @Test("limits out of range are refused with what is allowed", arguments: Limit.allCases)
    func invalidLimits(limit: Limit) throws {
        var configuration = try Self.configuration()
        let problem: String
        switch limit {
        case .zeroTimeout: configuration.requestTimeout = .zero; problem = "it must be positive"
        case .negativeTimeout: configuration.requestTimeout = .seconds(-1); problem = "it must be positive"
        case .zeroMessageBytes: configuration.maximumMessageBytes = 0; problem = "it must be positive"
        case .noConcurrency: configuration.maximumConcurrentRequests = 0; problem = "between 1 and 256"
        case .tooMuchConcurrency: configuration.maximumConcurrentRequests = 257; problem = "between 1 and 256"
        case .negativeResponseBytes: configuration.maximumResponseBytes = -1; problem = "must not be negative"
        case .negativeRetryAfter: configuration.maximumRetryAfter = .seconds(-1); problem = "must not be negative"
        }
        let error = try #require(throws: HTTPIngestError.self) { try configuration.validate() }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains(problem))
    }

    @Test("the limits' edges are accepted", arguments: [(1, 0), (256, 0), (8, 1 << 20)])
    func limitEdges(concurrency: Int, responseBytes: Int) throws {
        var configuration = try Self.configuration()
        configuration.maximumConcurrentRequests = concurrency
        configuration.maximumResponseBytes = responseBytes
        configuration.maximumRetryAfter = .zero
        configuration.maximumMessageBytes = 1
        configuration.requestTimeout = .milliseconds(1)
        #expect(throws: Never.self) { try configuration.validate() }
    }

    // MARK: Redaction

    @Test("the URL shows without user info, query or fragment", arguments: [
        ("https://ingest.example.com:8443/v1/facts?api_key=SECRET#frag", "https://ingest.example.com:8443/v1/facts"),
        ("https://ops:pw@ingest.example.com/v1", "https://ingest.example.com/v1"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("ingest.example.com/v1?api_key=SECRET", "(unparseable URL of 36 bytes)"),
    ])
    func redactedURL(url: String, shown: String) throws {
        #expect(try Self.configuration(url: url).redactedURL == shown)
    }

    @Test("an invalid URL's error shows the redacted URL, not its query")
    func invalidURLErrorRedacted() throws {
        let error = try #require(throws: HTTPIngestError.self) { try Self.configuration(url: "ftp://ingest.example.com/v1?api_key=SECRET").validate() }
        #expect(error.message.contains("ftp://ingest.example.com/v1"))
        #expect(!error.description.contains("SECRET"))
    }

    @Test("the configuration's description shows the redacted URL and the credential's header name, never a secret")
    func configurationDescription() throws {
        let configuration = try Self.configuration(
            url: "https://ingest.example.com/v1/facts?api_key=QUERYKEY", credential: try HTTPIngestCredential.header("X-Api-Key", value: Self.tokenText))
        #expect(configuration.description.hasPrefix(
            "HTTPIngestConfiguration(url: https://ingest.example.com/v1/facts, secret: (secret), credential: X-Api-Key: (secret), "))
        for text in [configuration.description, "\(configuration)", String(reflecting: configuration)] {
            #expect(!text.contains("QUERYKEY"), "\(text)")
        }
        for text in Self.printed(configuration) {
            #expect(!text.contains(Self.secretText), "\(text)")
            #expect(!text.contains(Self.tokenText), "\(text)")
        }
        #expect(try Self.configuration().description.contains("credential: none"))
    }

    @Test("the signing secret prints as (secret) however it is printed, and hands out its UTF-8 bytes only when asked")
    func secretRedacted() throws {
        let secret = try HTTPIngestSecret(Self.secretText)
        for text in Self.printed(secret) {
            #expect(!text.contains(Self.secretText), "\(text)")
        }
        #expect(secret.description == "(secret)")
        #expect(String(reflecting: secret) == "(secret)")
        #expect(secret.revealBytes() == Array(Self.secretText.utf8))
        #expect(try secret == HTTPIngestSecret(Self.secretText))
    }

    @Test("a signing secret shorter than 16 bytes is refused without repeating it", arguments: ["", "short", "fifteen-bytes!!"])
    func shortSecret(text: String) throws {
        let error = try #require(throws: HTTPIngestError.self) { try HTTPIngestSecret(text) }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("has \(text.utf8.count) bytes; it needs at least 16"))
        #expect(text.isEmpty || !error.message.contains(text))
    }

    @Test("a secret of exactly 16 bytes is accepted")
    func minimumSecret() throws {
        #expect(try HTTPIngestSecret("0123456789abcdef").revealBytes().count == HTTPIngestSecret.minimumByteCount)
    }

    @Test("a credential prints as its header name only, and hands out its value only when asked", arguments: [
        (try HTTPIngestCredential.bearer(tokenText), "Authorization", "Bearer " + tokenText),
        (try HTTPIngestCredential.header("X-Api-Key", value: tokenText), "X-Api-Key", tokenText),
    ])
    func credentialRedacted(credential: HTTPIngestCredential, header: String, value: String) {
        #expect(credential.headerName == header)
        #expect(credential.revealValue() == value)
        #expect(credential.description == "\(header): (secret)")
        for text in Self.printed(credential) {
            #expect(!text.contains(Self.tokenText), "\(text)")
        }
    }

    @Test("a credential header name must be an HTTP token", arguments: ["", "X Api Key", "X-Api-Key:", "X-Api-Key\r\nEvil", "Schl\u{FC}ssel", "(key)"])
    func invalidCredentialName(name: String) throws {
        let error = try #require(throws: HTTPIngestError.self) { try HTTPIngestCredential.header(name, value: Self.tokenText) }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("is not a valid header name"))
        #expect(!error.description.contains(Self.tokenText))
    }

    @Test("a credential value must not be empty or break out of its header line", arguments: [
        "", "tok\r\nX-Evil: 1", "tok\nmore", "tok\rmore", "tok\u{0}more",
    ])
    func invalidCredentialValue(value: String) throws {
        let error = try #require(throws: HTTPIngestError.self) { try HTTPIngestCredential.header("X-Api-Key", value: value) }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("is empty or contains a line break"))
        #expect(value.isEmpty || !error.description.contains(value))
    }

    @Test("an error reads as its code and a sentence")
    func errorDescription() {
        #expect(HTTPIngestError(code: .invalidURL, message: "fix it").description == "HTTP ingest invalidURL: fix it")
    }
}
