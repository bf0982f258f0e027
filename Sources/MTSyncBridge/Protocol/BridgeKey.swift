import Crypto
import Foundation
import MTSyncCore

/// The shared secret of the bridge handshake (bridge-protocol/README.md §2): at least 32 random bytes, given
/// to operators as hex, known by its key id. Its description never shows the key.
public struct BridgeKey: Sendable, CustomStringConvertible {
    public let id: String
    let key: SymmetricKey

    public init(id: String, hex: String) throws(BridgeKeyError) {
        let text = hex.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count >= 64, text.count % 2 == 0 else { throw BridgeKeyError(keyID: id, reason: "must be at least 64 hex characters (32 bytes)") }
        guard let bytes = Hex.decode(text) else { throw BridgeKeyError(keyID: id, reason: "must contain only hex digits") }
        guard !id.isEmpty, id.count <= 64 else { throw BridgeKeyError(keyID: id, reason: "the key id must be 1 to 64 characters") }
        self.id = id
        self.key = SymmetricKey(data: bytes)
    }

    public var description: String { "bridge key \(String(reflecting: id)) (secret not shown)" }

    /// `text` from a bridge (an error message) made safe to log and store: the key itself, in either case, and
    /// anything written as `password=…`, `secret: …`, `token=…` or `key=…` are replaced. A bridge is untrusted, and
    /// what it says ends up in mtsync's log and in `status`, which more people read than should see a secret.
    public func scrubbed(_ text: String) -> String {
        let hex = key.withUnsafeBytes { Hex.encode(Array($0)) }
        var scrubbed = text.replacingOccurrences(of: hex, with: "[redacted]", options: .caseInsensitive)
        scrubbed = scrubbed.replacing(Self.secretAssignment) { match in "\(match.output.1)=[redacted]" }
        return scrubbed
    }

    nonisolated(unsafe) private static let secretAssignment = #/(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|key)\s*[=:]\s*[^\s,;]+/#

    /// `mac` of `auth`: HMAC-SHA256(key, "mtbridge-v1 auth\n" + nonce + "\n" + client_nonce + "\n" + key_id + "\n" + time_ms).
    public func authMAC(nonce: String, clientNonce: String, timeMilliseconds: Int64) -> String {
        mac("mtbridge-v1 auth\n\(nonce)\n\(clientNonce)\n\(id)\n\(timeMilliseconds)")
    }

    /// `mac` of `welcome`: HMAC-SHA256(key, "mtbridge-v1 welcome\n" + client_nonce + "\n" + nonce).
    public func welcomeMAC(nonce: String, clientNonce: String) -> String {
        mac("mtbridge-v1 welcome\n\(clientNonce)\n\(nonce)")
    }

    /// Compares a received MAC with the expected one in constant time.
    public func isValid(mac received: String, for message: String) -> Bool {
        guard received.utf8.count == 64, let bytes = Hex.decode(received) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(bytes, authenticating: Data(message.utf8), using: key)
    }

    public func isValidAuth(mac: String, nonce: String, clientNonce: String, timeMilliseconds: Int64) -> Bool {
        isValid(mac: mac, for: "mtbridge-v1 auth\n\(nonce)\n\(clientNonce)\n\(id)\n\(timeMilliseconds)")
    }

    public func isValidWelcome(mac: String, nonce: String, clientNonce: String) -> Bool {
        isValid(mac: mac, for: "mtbridge-v1 welcome\n\(clientNonce)\n\(nonce)")
    }

    private func mac(_ message: String) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key))
    }

    /// 32 random bytes as base64url without padding (43 characters): a handshake nonce.
    public static func makeNonce<Generator: RandomNumberGenerator>(using generator: inout Generator) -> String {
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

public struct BridgeKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    public let keyID: String
    public let reason: String
    public var description: String { "bridge key \(String(reflecting: keyID)) \(reason)" }
}
