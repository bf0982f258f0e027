import MTSyncIngest
import Testing

@Suite("HTTP ingest signature: X-Mtsync-Signature v1, HMAC-SHA256 of timestamp.body")
struct HTTPIngestSignatureTests {
    static let key = Array("mtsync-test-secret-0123456789abcdef".utf8)
    static let timestamp: Int64 = 1_700_000_000
    static let body = Array(#"{"schema":"mtsync.ingest","events":[{"idempotency_key":"live-mt5:1:1"}]}"#.utf8)
    /// Computed independently with Python:
    /// hmac.new(b"mtsync-test-secret-0123456789abcdef", b"1700000000." + body, hashlib.sha256).hexdigest()
    static let expected = "v1=a3f971834282dd8619d622d73eb93dcbdc841a6d7e629cfb0c79708e3cc0467c"
    /// The same request signed with b"another-secret-of-enough-length!".
    static let otherKeys = "v1=a46761c2cfdfa7d3605f93bcc298facb30c88de2c008b434fe57c27f224fef39"

    static func verify(
        timestamp: String = String(HTTPIngestSignatureTests.timestamp), signature: String = HTTPIngestSignatureTests.expected,
        body: [UInt8] = HTTPIngestSignatureTests.body, now: Int64 = HTTPIngestSignatureTests.timestamp,
        tolerance: Int64 = HTTPIngestSignature.recommendedTolerance
    ) -> HTTPIngestSignature.Verification {
        HTTPIngestSignature.verify(key: key, timestampHeader: timestamp, signatureHeader: signature, body: body, now: now, tolerance: tolerance)
    }

    @Test("the signature is v1= and the lower-case hex HMAC-SHA256 of timestamp, '.', body, keyed with the secret's UTF-8")
    func fixedVector() {
        #expect(HTTPIngestSignature.signature(key: Self.key, timestamp: Self.timestamp, body: Self.body) == Self.expected)
        #expect(HTTPIngestSignature.signature(key: Array("another-secret-of-enough-length!".utf8), timestamp: Self.timestamp, body: Self.body) == Self.otherKeys)
        // An empty body signs "1700000000." alone (Python: hmac.new(key, b"1700000000.", sha256)).
        #expect(HTTPIngestSignature.signature(key: Self.key, timestamp: Self.timestamp, body: [UInt8]())
            == "v1=cbff168e798f699e7e43846c56e944243dea8058273b512eddd67a4f30ffe282")
        #expect(HTTPIngestSignature.signedPayload(timestamp: Self.timestamp, body: Self.body) == Array("1700000000.".utf8) + Self.body)
    }

    @Test("the header names and scheme are the documented ones")
    func names() {
        #expect(HTTPIngestSignature.timestampHeader == "X-Mtsync-Timestamp")
        #expect(HTTPIngestSignature.signatureHeader == "X-Mtsync-Signature")
        #expect(HTTPIngestSignature.scheme == "v1")
        #expect(HTTPIngestSignature.recommendedTolerance == 300)
    }

    @Test("a request signed with the secret verifies within the replay window, either side of the receiver's clock", arguments: [
        Int64(-300), -1, 0, 1, 300,
    ])
    func valid(skew: Int64) {
        #expect(Self.verify(now: Self.timestamp + skew) == .valid)
    }

    @Test("a correctly signed request outside the replay window is reported as such", arguments: [
        (Int64(-301), Int64(300)), (301, 300), (86_400, 300), (11, 10), (-1, 0),
    ])
    func outsideTolerance(skew: Int64, tolerance: Int64) {
        #expect(Self.verify(now: Self.timestamp + skew, tolerance: tolerance) == .outsideTolerance)
    }

    @Test("a wrong secret, a changed body or a changed timestamp is a mismatch", arguments: [
        (String(timestamp), otherKeys, body),
        (String(timestamp), expected, body + [0x20]),
        (String(timestamp), expected, [UInt8]()),
        (String(timestamp + 1), expected, body),
        (String(timestamp), "v1=" + String(repeating: "0", count: 64), body),
    ])
    func mismatch(timestamp: String, signature: String, body: [UInt8]) {
        #expect(Self.verify(timestamp: timestamp, signature: signature, body: body, now: Self.timestamp) == .mismatch)
    }

    @Test("a mismatch is reported before the window: a forged request learns nothing about the clock")
    func mismatchBeforeWindow() {
        #expect(Self.verify(signature: Self.otherKeys, now: Self.timestamp + 10_000) == .mismatch)
    }

    @Test("a timestamp that is not decimal seconds is malformed", arguments: ["", " ", "abc", "-1700000000", "+1700000000", "1700000000.5", "1e9", "0x10", "99999999999999999999"])
    func malformedTimestamp(timestamp: String) {
        #expect(Self.verify(timestamp: timestamp) == .malformed)
    }

    @Test("a signature header without a well-formed v1 entry is malformed", arguments: [
        "", "v1=", "v1", "a3f971834282dd8619d622d73eb93dcbdc841a6d7e629cfb0c79708e3cc0467c",
        "v2=a3f971834282dd8619d622d73eb93dcbdc841a6d7e629cfb0c79708e3cc0467c",
        "v1=a3f971834282dd8619d622d73eb93dcbdc841a6d7e629cfb0c79708e3cc0467",
        "v1=a3f971834282dd8619d622d73eb93dcbdc841a6d7e629cfb0c79708e3cc0467c0",
        "v1=z3f971834282dd8619d622d73eb93dcbdc841a6d7e629cfb0c79708e3cc0467c",
        "V1=a3f971834282dd8619d622d73eb93dcbdc841a6d7e629cfb0c79708e3cc0467c",
        ",,",
    ])
    func malformedSignature(signature: String) {
        #expect(Self.verify(signature: signature) == .malformed)
    }

    @Test("several comma-separated entries verify when one v1 entry matches; other schemes and bad entries are skipped", arguments: [
        ("\(otherKeys),\(expected)", HTTPIngestSignature.Verification.valid),
        ("\(expected),\(otherKeys)", .valid),
        (" \(otherKeys) , \(expected) ", .valid),
        ("v2=abc,\(expected)", .valid),
        ("v1=zz,\(expected)", .valid),
        ("\(otherKeys),v1=\(String(repeating: "0", count: 64))", .mismatch),
        ("v2=abc,v3=def", .malformed),
    ])
    func multipleEntries(signature: String, verification: HTTPIngestSignature.Verification) {
        #expect(Self.verify(signature: signature) == verification)
    }

    @Test("spaces and tabs around the header values are ignored")
    func surroundingBlanks() {
        #expect(Self.verify(timestamp: " \t1700000000 ", signature: "\t\(Self.expected) ") == .valid)
    }

    @Test("what a sender signs, a receiver with the same secret verifies", arguments: [Int64(0), 1, 1_700_000_000, 4_102_444_800])
    func roundTrip(timestamp: Int64) {
        let body = Array("caf\u{E9} \u{1F600}\n".utf8)
        let signature = HTTPIngestSignature.signature(key: Self.key, timestamp: timestamp, body: body)
        #expect(HTTPIngestSignature.verify(key: Self.key, timestampHeader: String(timestamp), signatureHeader: signature, body: body, now: timestamp) == .valid)
        #expect(HTTPIngestSignature.verify(key: Array("x".utf8), timestampHeader: String(timestamp), signatureHeader: signature, body: body, now: timestamp) == .mismatch)
    }
}
