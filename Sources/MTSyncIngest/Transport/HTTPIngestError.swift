/// Why the HTTP data-ingest sink could not be set up. Delivery itself never throws: each message's fate is a
/// `DeliveryOutcome`. Carries no secret: the signing secret and credential print as `(secret)`.
public struct HTTPIngestError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The URL is not an absolute http or https URL with a host.
        case invalidURL
        /// A limit, timeout, secret or credential is out of range.
        case invalidConfiguration
    }

    public var code: Code
    /// What is wrong and what to change, as a sentence.
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "HTTP ingest \(code.rawValue): \(message)" }
}
