import MTSyncCore

/// A bridge key (hex, at least 32 bytes) that does not print: `description`, `debugDescription`, string
/// interpolation, `dump` and reflection all show `(secret)`. The hex is handed out only by `revealHex()`, which
/// a reader of the code cannot miss.
public struct BridgeSecret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let hex: String

    /// Nil unless `hex` (surrounding whitespace ignored) is an even number, at least 64, of hex digits.
    public init?(hex: String) {
        let text = hex.trimmingASCIIWhitespace()
        guard text.utf8.count >= 64, Hex.decode(text) != nil else { return nil }
        self.hex = text
    }

    /// The key as hex, for building the handshake key (`BridgeKey(id:hex:)` in MTSyncBridge). Never log it.
    public func revealHex() -> String { hex }

    public var description: String { "(secret)" }
    public var debugDescription: String { "(secret)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
