import Crypto
import MTSyncCore

/// The signature of an HTTP data-ingest request (docs/ingest.md, "HTTP data-ingest"), pure so the sink, the test
/// server and any receiver written in Swift compute the very same bytes.
///
/// The sender puts the request time in `X-Mtsync-Timestamp` (decimal unix seconds) and
/// `X-Mtsync-Signature: v1=<hex>`, where hex is the lower-case HMAC-SHA256, keyed with the shared secret's UTF-8
/// bytes, of `timestamp + "." + body` (the body's exact bytes as sent). The timestamp is inside the MAC so an
/// eavesdropped request cannot be replayed later with a fresh timestamp; the receiver rejects timestamps outside
/// its replay window (five minutes recommended) and de-duplicates by `Idempotency-Key` inside it.
public enum HTTPIngestSignature {
    public static let timestampHeader = "X-Mtsync-Timestamp"
    public static let signatureHeader = "X-Mtsync-Signature"
    /// The scheme tag: a later algorithm gets `v2=` and receivers can accept both during a migration.
    public static let scheme = "v1"
    /// The replay window receivers should allow either side of their own clock, in seconds.
    public static let recommendedTolerance: Int64 = 300

    /// What a receiver concluded about a request's signature.
    public enum Verification: Sendable, Hashable {
        case valid
        /// The timestamp is not a decimal number of seconds, or the signature header has no `v1=<hex>` entry.
        case malformed
        /// Well-formed, but the MAC does not match: a wrong secret or a body changed in transit.
        case mismatch
        /// The MAC matches but the timestamp is outside the replay window: a replay or a badly skewed clock.
        case outsideTolerance
    }

    /// The bytes the MAC covers: `timestamp "." body`.
    public static func signedPayload(timestamp: Int64, body: some Collection<UInt8>) -> [UInt8] {
        var payload = Array(String(timestamp).utf8)
        payload.reserveCapacity(payload.count + 1 + body.count)
        payload.append(UInt8(ascii: "."))
        payload.append(contentsOf: body)
        return payload
    }

    /// The `X-Mtsync-Signature` value for `body` sent at `timestamp`: `v1=` and 64 lower-case hex digits.
    public static func signature(key: some Collection<UInt8>, timestamp: Int64, body: some Collection<UInt8>) -> String {
        let mac = HMAC<SHA256>.authenticationCode(
            for: signedPayload(timestamp: timestamp, body: body),
            using: SymmetricKey(data: Array(key))
        )
        return scheme + "=" + Hex.encode(Array(mac))
    }

    /// Checks the two headers of a received request against its body. `signatureHeader` may list several
    /// comma-separated entries (`v1=…,v1=…`, e.g. while a secret is rotated): one valid `v1` entry suffices.
    /// Entries of other schemes are ignored. The comparison is constant-time (Crypto's MAC validation), so the
    /// answer time reveals nothing about how much of a forged MAC was right.
    public static func verify(
        key: some Collection<UInt8>,
        timestampHeader: String,
        signatureHeader: String,
        body: some Collection<UInt8>,
        now: Int64,
        tolerance: Int64 = recommendedTolerance
    ) -> Verification {
        let timestampText = timestampHeader.trimmingSpaces()
        guard !timestampText.isEmpty, timestampText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let timestamp = Int64(timestampText)
        else { return .malformed }
        let macs: [[UInt8]] = signatureHeader.split(separator: ",").compactMap { entry in
            let parts = entry.trimmingSpaces().split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == scheme, parts[1].utf8.count == 64 else { return nil }
            return Hex.decode(parts[1])
        }
        guard !macs.isEmpty else { return .malformed }
        let symmetricKey = SymmetricKey(data: Array(key))
        let payload = signedPayload(timestamp: timestamp, body: body)
        guard macs.contains(where: { HMAC<SHA256>.isValidAuthenticationCode($0, authenticating: payload, using: symmetricKey) })
        else { return .mismatch }
        // Checked after the MAC so a forger learns nothing about the window from the answer.
        guard abs(now - timestamp) <= tolerance else { return .outsideTolerance }
        return .valid
    }
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> Substring {
        let text = Substring(self)
        guard let first = text.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        let last = text.lastIndex(where: { $0 != " " && $0 != "\t" })!
        return text[first...last]
    }
}
