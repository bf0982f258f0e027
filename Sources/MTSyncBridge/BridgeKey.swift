import Crypto
import Foundation

/// The shared secret of the bridge handshake (bridge-protocol/README.md §2): at least 32 random bytes, given
/// to operators as hex, known by its key id. Its description never shows the key.
public struct BridgeKey: Sendable, CustomStringConvertible {
    public let id: String
    let key: SymmetricKey

    public init(id: String, hex: String) throws(BridgeKeyError) {
        let text = hex.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count >= 64, text.count % 2 == 0 else { throw BridgeKeyError(keyID: id, reason: "must be at least 64 hex characters (32 bytes)") }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count / 2)
        var iterator = text.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = Self.nibble(high), let l = Self.nibble(low) else { throw BridgeKeyError(keyID: id, reason: "must contain only hex digits") }
            bytes.append(h << 4 | l)
        }
        guard !id.isEmpty, id.count <= 64 else { throw BridgeKeyError(keyID: id, reason: "the key id must be 1 to 64 characters") }
        self.id = id
        self.key = SymmetricKey(data: bytes)
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    public var description: String { "bridge key \(String(reflecting: id)) (secret not shown)" }

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
        guard let bytes = Self.hexBytes(received) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(bytes, authenticating: Data(message.utf8), using: key)
    }

    public func isValidAuth(mac: String, nonce: String, clientNonce: String, timeMilliseconds: Int64) -> Bool {
        isValid(mac: mac, for: "mtbridge-v1 auth\n\(nonce)\n\(clientNonce)\n\(id)\n\(timeMilliseconds)")
    }

    public func isValidWelcome(mac: String, nonce: String, clientNonce: String) -> Bool {
        isValid(mac: mac, for: "mtbridge-v1 welcome\n\(clientNonce)\n\(nonce)")
    }

    private func mac(_ message: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key).map { String(format: "%02x", $0) }.joined()
    }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        guard text.utf8.count == 64 else { return nil }
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = nibble(high), let l = nibble(low) else { return nil }
            bytes.append(h << 4 | l)
        }
        return bytes
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
