/// The file ingest's API key, sent as `x-api-key`. It does not print: `description`, `debugDescription`, string
/// interpolation, `dump` and reflection all show `(secret)`, so a client, its configuration or an outcome that
/// mentions one can be logged whole. The text is handed out only by `revealValue()`, which a reader cannot miss.
public struct FileIngestKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let value: String

    /// The key exactly as issued; refused when empty or when it holds a control character (a CR or LF would
    /// smuggle a header of its own into the request).
    public init(_ text: String) throws(HTTPIngestError) {
        guard !text.isEmpty else {
            throw HTTPIngestError(code: .invalidConfiguration, message: "the file ingest API key is empty: configure the key the platform issued for the trigger")
        }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw HTTPIngestError(code: .invalidConfiguration, message: "the file ingest API key contains a line break or another control character: check the configured value (a trailing newline from a file?)")
        }
        value = text
    }

    /// The header value, for the request only. Never log it.
    public func revealValue() -> String { value }

    public var description: String { "(secret)" }
    public var debugDescription: String { "(secret)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
