import Crypto
import Foundation
import MTSyncCore

/// AWS Signature Version 4 (header form), as the AWS General Reference "Create a signed AWS API request"
/// describes it: canonical request → string to sign → HMAC chain of date, region, service → `Authorization`.
///
/// Pure and clock-free: the caller passes the signing time, so the signer is tested against AWS's published
/// test suite and against botocore at a fixed instant. Paths are encoded once more as for every service but S3
/// (what botocore does); SQS's JSON protocol always posts to `/`, so this matters only for the test vectors.
public struct SigV4Signer: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var service: String

    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// One header; a request may carry the same name more than once (the canonical form joins them with commas,
    /// in order).
    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Every intermediate product, so a failing test can say which step differs.
    public struct Signature: Sendable, Hashable {
        public var canonicalRequest: String
        public var stringToSign: String
        public var signature: String
        public var authorization: String
        /// What to add to the request: `X-Amz-Date`, `X-Amz-Security-Token` (session credentials) and
        /// `Authorization`. The first two are signed too, so they must be sent exactly as given.
        public var headersToAdd: [Header]
    }

    static let algorithm = "AWS4-HMAC-SHA256"

    /// Signs a request. `path` and `query` are as they go on the wire (the query without `?`); `headers` are
    /// every header that is sent and signed, including `Host`. Any `X-Amz-Date`, `X-Amz-Security-Token` or
    /// `Authorization` among them is replaced.
    public func sign(method: String, path: String, query: String = "", headers: [Header], body: some DataProtocol, date: Date) -> Signature {
        let stamp = Self.timestamp(date)
        var signed = headers.filter {
            let name = $0.name.lowercased()
            return name != "authorization" && name != "x-amz-date" && name != "x-amz-security-token"
        }
        var added = [Header("X-Amz-Date", stamp.dateTime)]
        // Session credentials: the token is sent and signed (AWS suite post-sts-header-before; botocore does the same).
        if let token = credentials.sessionToken { added.append(Header("X-Amz-Security-Token", token)) }
        signed += added

        let (canonicalHeaders, signedHeaderNames) = Self.canonicalHeaders(signed)
        let payloadHash = Hex.encode(SHA256.hash(data: body))
        let canonicalRequest = [
            method.uppercased(),
            Self.canonicalURI(path),
            Self.canonicalQuery(query),
            canonicalHeaders,
            signedHeaderNames,
            payloadHash,
        ].joined(separator: "\n")

        let scope = "\(stamp.date)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            Self.algorithm, stamp.dateTime, scope,
            Hex.encode(SHA256.hash(data: Array(canonicalRequest.utf8))),
        ].joined(separator: "\n")

        let key = signingKey(date: stamp.date)
        let signature = Hex.encode(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
        let authorization = "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaderNames), Signature=\(signature)"
        return Signature(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature,
            authorization: authorization, headersToAdd: added + [Header("Authorization", authorization)])
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
    func signingKey(date: String) -> SymmetricKey {
        func hmac(_ key: SymmetricKey, _ text: String) -> SymmetricKey {
            SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key)))
        }
        let secret = SymmetricKey(data: Array(("AWS4" + credentials.secretAccessKey).utf8))
        return hmac(hmac(hmac(hmac(secret, date), region), service), "aws4_request")
    }

    /// `yyyyMMdd'T'HHmmss'Z'` and `yyyyMMdd`, always UTC (the Gregorian calendar, whatever the locale).
    static func timestamp(_ date: Date) -> (dateTime: String, date: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ value: Int?, _ width: Int) -> String {
            let text = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let day = pad(parts.year, 4) + pad(parts.month, 2) + pad(parts.day, 2)
        return (day + "T" + pad(parts.hour, 2) + pad(parts.minute, 2) + pad(parts.second, 2) + "Z", day)
    }

    /// Lowercased names, sorted; values trimmed with inner runs of spaces collapsed (the spec says so even
    /// inside quotes: suite get-header-value-trim); repeated names joined by commas in their order.
    static func canonicalHeaders(_ headers: [Header]) -> (canonical: String, signedNames: String) {
        var values: [String: [String]] = [:]
        for header in headers {
            values[header.name.lowercased(), default: []].append(normalizedValue(header.value))
        }
        let names = values.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var canonical = ""
        for name in names { canonical += name + ":" + values[name]!.joined(separator: ",") + "\n" }
        return (canonical, names.joined(separator: ";"))
    }

    static func normalizedValue(_ value: String) -> String {
        var out = ""
        var pendingSpace = false
        for character in value.trimmingCharacters(in: .whitespaces) {
            if character == " " || character == "\t" {
                pendingSpace = true
                continue
            }
            if pendingSpace { out.append(" ") }
            pendingSpace = false
            out.append(character)
        }
        return out
    }

    /// Dot segments removed and empty segments dropped (suite get-slashes, get-relative-relative), then each
    /// byte outside the unreserved set percent-encoded — a path that arrives percent-encoded is encoded again, as
    /// every service but S3 expects.
    static func canonicalURI(_ path: String) -> String {
        guard !path.isEmpty else { return "/" }
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": if !segments.isEmpty { segments.removeLast() }
            default: segments.append(segment)
            }
        }
        var out = "/" + segments.map { uriEncode(String($0)) }.joined(separator: "/")
        if path.hasSuffix("/"), !segments.isEmpty { out += "/" }
        return out
    }

    /// Parameters decoded then re-encoded with the unreserved set, sorted by name then value (byte order); a
    /// parameter without `=` signs as `name=`.
    static func canonicalQuery(_ query: String) -> String {
        guard !query.isEmpty else { return "" }
        var pairs: [(String, String)] = []
        for item in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = percentDecode(String(parts[0]))
            let value = parts.count > 1 ? percentDecode(String(parts[1])) : ""
            pairs.append((uriEncode(name), uriEncode(value)))
        }
        pairs.sort { lhs, rhs in
            if lhs.0 != rhs.0 { return Array(lhs.0.utf8).lexicographicallyPrecedes(Array(rhs.0.utf8)) }
            return Array(lhs.1.utf8).lexicographicallyPrecedes(Array(rhs.1.utf8))
        }
        return pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// RFC 3986 unreserved characters stay; every other UTF-8 byte becomes `%XX` (uppercase hex, as AWS wants).
    static func uriEncode(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func percentDecode(_ text: String) -> String {
        text.removingPercentEncoding ?? text
    }
}
