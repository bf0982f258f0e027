/// The HMAC key shared with the HTTP data-ingest. It does not print: `description`, `debugDescription`, string
/// interpolation, `dump` and reflection all show `(secret)`, so a sink, its configuration or an error that
/// carries one can be logged whole. The bytes are handed out only by `revealBytes()`, which a reader cannot miss.
public struct HTTPIngestSecret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let bytes: [UInt8]

    /// The fewest bytes accepted: HMAC-SHA256 is only as strong as its key, and a short one can be guessed
    /// offline from a single captured request. 32 random bytes (e.g. `openssl rand -hex 32`) are recommended.
    public static let minimumByteCount = 16

    /// The key is the secret's UTF-8 bytes exactly as given (not hex-decoded), so a receiver in any language
    /// uses the same text it was configured with: `hmac.new(secret.encode(), …)`.
    public init(_ text: String) throws(HTTPIngestError) {
        guard text.utf8.count >= Self.minimumByteCount else {
            throw HTTPIngestError(
                code: .invalidConfiguration,
                message: "the HTTP ingest signing secret has \(text.utf8.count) bytes; it needs at least \(Self.minimumByteCount) (32 random bytes recommended: openssl rand -hex 32)"
            )
        }
        bytes = Array(text.utf8)
    }

    /// The key bytes, for the HMAC only. Never log them.
    public func revealBytes() -> [UInt8] { bytes }

    public var description: String { "(secret)" }
    public var debugDescription: String { "(secret)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
