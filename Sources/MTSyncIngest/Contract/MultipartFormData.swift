import Crypto
import MTSyncCore

/// A `multipart/form-data` body (RFC 7578), built in memory from its parts: what the file ingest uploads. Pure, so
/// the exact bytes are tested without a server.
///
/// The boundary is derived from a SHA-256 of the parts, so the same parts always give the same bytes, and it is
/// checked against every part: a candidate found inside one is replaced by the next (RFC 2046 §5.1.1 requires
/// that the boundary occur in no encapsulated part).
public struct MultipartFormData: Sendable, Equatable {
    /// One form field: a name, the file name when it is a file, its media type and its bytes, sent untouched.
    public struct Part: Sendable, Equatable {
        public var name: String
        /// Present for a file field (`filename=` in its `Content-Disposition`).
        public var fileName: String?
        public var contentType: String
        public var bytes: [UInt8]

        public init(name: String, fileName: String? = nil, contentType: String, bytes: [UInt8]) {
            self.name = name
            self.fileName = fileName
            self.contentType = contentType
            self.bytes = bytes
        }
    }

    public let parts: [Part]
    /// 1 to 70 characters of RFC 2046's `bchars`: `mtsync-` and 48 hex digits.
    public let boundary: String
    /// The whole body, CRLF line endings throughout (RFC 7578 §4.1, RFC 2046 §5.1.1).
    public let body: [UInt8]

    /// The request's `Content-Type` header value.
    public var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    public init(parts: [Part]) {
        let heads = parts.map(Self.head)
        let boundary = Self.chooseBoundary(heads: heads, parts: parts) { Self.candidate(for: parts, attempt: $0) }
        var body: [UInt8] = []
        body.reserveCapacity(parts.reduce(0) { $0 + $1.bytes.count } + heads.reduce(0) { $0 + $1.count } + parts.count * 60 + 60)
        let delimiter = Array("--\(boundary)".utf8)
        for (head, part) in zip(heads, parts) {
            body += delimiter
            body += Self.crlf
            body += head
            body += part.bytes
            body += Self.crlf
        }
        body += delimiter
        body += Array("--".utf8)
        body += Self.crlf
        self.parts = parts
        self.boundary = boundary
        self.body = body
    }

    static let crlf: [UInt8] = [0x0D, 0x0A]

    /// A part's header lines and the blank line that ends them.
    static func head(_ part: Part) -> [UInt8] {
        var line = "Content-Disposition: form-data; name=\"\(escaped(part.name))\""
        if let fileName = part.fileName { line += "; filename=\"\(escaped(fileName))\"" }
        return Array((line + "\r\nContent-Type: \(escaped(part.contentType))\r\n\r\n").utf8)
    }

    /// A name or file name made safe inside a quoted parameter, the way the HTML standard's multipart/form-data
    /// encoding does it (`"` → `%22`, CR → `%0D`, LF → `%0A`, which werkzeug and browsers' peers understand), and
    /// also every other control character and `\`: parsers that read the value as an RFC 9110 quoted-string
    /// (werkzeug, busboy, Go's mime) would take a backslash for an escape, and a trailing one would swallow the
    /// closing quote. No value can end its quotes, its line or its header block. Other UTF-8 is sent as is (RFC
    /// 7578 §5.1.3: what browsers send and receivers expect).
    static func escaped(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x00..<0x20, 0x7F, 0x22, 0x5C:
                out += "%" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16, uppercase: true)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The first candidate that occurs in no part's header or content.
    static func chooseBoundary(heads: [[UInt8]], parts: [Part], candidate: (Int) -> String) -> String {
        var attempt = 0
        while true {
            let boundary = candidate(attempt)
            let needle = Array(boundary.utf8)
            if !heads.contains(where: { occurs(needle, in: $0) }) && !parts.contains(where: { occurs(needle, in: $0.bytes) }) {
                return boundary
            }
            attempt += 1
        }
    }

    /// `mtsync-` and the first 24 bytes, in hex, of a SHA-256 over every field of every part (each length-prefixed,
    /// so different parts never hash alike) and the attempt number.
    static func candidate(for parts: [Part], attempt: Int) -> String {
        var hasher = SHA256()
        func field(_ bytes: [UInt8]) {
            withUnsafeBytes(of: UInt64(bytes.count).bigEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(data: bytes)
        }
        field(Array("mtsync multipart v1 attempt \(attempt)".utf8))
        for part in parts {
            field(Array(part.name.utf8))
            field(part.fileName.map { [1] + Array($0.utf8) } ?? [0])
            field(Array(part.contentType.utf8))
            field(part.bytes)
        }
        return "mtsync-" + Hex.encode(Array(hasher.finalize().prefix(24)))
    }

    /// Whether `needle` occurs in `haystack`. Scans for the first byte, then compares: linear for real content.
    static func occurs(_ needle: [UInt8], in haystack: [UInt8]) -> Bool {
        guard let first = needle.first, haystack.count >= needle.count else { return needle.isEmpty }
        let last = haystack.count - needle.count
        var index = 0
        while index <= last {
            if haystack[index] == first, haystack[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }
}
