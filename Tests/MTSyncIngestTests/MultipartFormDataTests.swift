@testable import MTSyncIngest
import Testing

@Suite("multipart/form-data: RFC 7578 bodies with CRLF, a content-derived boundary found in no part, safe names")
struct MultipartFormDataTests {
    typealias Part = MultipartFormData.Part

    /// A part as read back from a body by `parse`: its header lines and its content.
    struct Parsed: Equatable {
        var headers: [String]
        var content: [UInt8]
    }

    /// Reads a body the way RFC 2046 §5.1.1 says: the first line is `--boundary`, every later delimiter is
    /// CRLF `--boundary`, the last one is followed by `--`; each part's headers end at the first blank line.
    static func parse(_ body: [UInt8], boundary: String) throws -> [Parsed] {
        let opening = Array("--\(boundary)\r\n".utf8)
        let delimiter = Array("\r\n--\(boundary)".utf8)
        try #require(body.starts(with: opening), "the body opens with --boundary CRLF")
        try #require(body.suffix(delimiter.count + 4).elementsEqual(delimiter + Array("--\r\n".utf8)), "the body closes with CRLF --boundary-- CRLF")
        var parsed: [Parsed] = []
        var start = opening.count
        while true {
            let end = try #require(firstRange(of: delimiter, in: body, from: start))
            let section = Array(body[start..<end])
            let blank = try #require(firstRange(of: Array("\r\n\r\n".utf8), in: section, from: 0))
            let headers = String(decoding: section[..<blank], as: UTF8.self).components(separatedBy: "\r\n")
            parsed.append(Parsed(headers: headers, content: Array(section[(blank + 4)...])))
            let after = end + delimiter.count
            if body[after...].starts(with: Array("--".utf8)) { break }
            try #require(body[after...].starts(with: Array("\r\n".utf8)))
            start = after + 2
        }
        return parsed
    }

    static func firstRange(of needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        return (start...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    static func count(_ needle: String, in body: [UInt8]) -> Int {
        let bytes = Array(needle.utf8)
        var found = 0
        var index = 0
        while let hit = firstRange(of: bytes, in: body, from: index) {
            found += 1
            index = hit + 1
        }
        return found
    }

    static let csv = Array("login,day,volume\r\n\"Smith, \"\"J\"\"\",2025-01-02,1.5\r\nMüller ✓,2025-01-02,2\r\n".utf8)
    static let metadata = Array(#"{"source":"mtsync","batch_id":"b-1"}"#.utf8)
    static let formParts = [
        Part(name: "metadata", contentType: "application/json", bytes: metadata),
        Part(name: "data", fileName: "daily-2025-01-02.csv", contentType: "text/csv", bytes: csv),
    ]

    @Test("the body is the parts between boundary lines, with CRLF everywhere and the closing --boundary--")
    func exactLayout() throws {
        let form = MultipartFormData(parts: Self.formParts)
        let b = form.boundary
        let expected = Array("--\(b)\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n".utf8) + Self.metadata
            + Array("\r\n--\(b)\r\nContent-Disposition: form-data; name=\"data\"; filename=\"daily-2025-01-02.csv\"\r\nContent-Type: text/csv\r\n\r\n".utf8)
            + Self.csv + Array("\r\n--\(b)--\r\n".utf8)
        #expect(form.body == expected)
        #expect(form.contentType == "multipart/form-data; boundary=\(b)")
    }

    @Test("the parts read back exactly, content bytes untouched (CRLF, quotes, non-ASCII, dashes)")
    func roundTrip() throws {
        let tricky: [UInt8] = Array("--\r\n--mtsync-\r\n\r\n--\r\n".utf8) + [0x00, 0xFF, 0x0D, 0x0A, 0x2D, 0x2D]
        let parts = Self.formParts + [Part(name: "raw", fileName: "raw.bin", contentType: "application/octet-stream", bytes: tricky), Part(name: "empty", contentType: "text/plain", bytes: [])]
        let form = MultipartFormData(parts: parts)
        let parsed = try Self.parse(form.body, boundary: form.boundary)
        #expect(parsed.map(\.content) == parts.map(\.bytes))
        #expect(parsed.map(\.headers) == [
            [#"Content-Disposition: form-data; name="metadata""#, "Content-Type: application/json"],
            [#"Content-Disposition: form-data; name="data"; filename="daily-2025-01-02.csv""#, "Content-Type: text/csv"],
            [#"Content-Disposition: form-data; name="raw"; filename="raw.bin""#, "Content-Type: application/octet-stream"],
            [#"Content-Disposition: form-data; name="empty""#, "Content-Type: text/plain"],
        ])
    }

    @Test("the boundary follows from the parts: the same parts give the same bytes, any change gives another boundary")
    func deterministicBoundary() {
        let form = MultipartFormData(parts: Self.formParts)
        #expect(MultipartFormData(parts: Self.formParts) == form)
        #expect(form.boundary.count <= 70, "RFC 2046: at most 70 characters")
        #expect(form.boundary.hasPrefix("mtsync-") && form.boundary.dropFirst(7).allSatisfy { "0123456789abcdef".contains($0) })
        #expect(form.boundary.count == 7 + 48)
        var changed = Self.formParts
        changed[1].bytes += [0x0A]
        var renamed = Self.formParts
        renamed[1].fileName = "other.csv"
        var noFile = Self.formParts
        noFile[1].fileName = nil
        var retyped = Self.formParts
        retyped[1].contentType = "text/plain"
        // The same bytes moved from one field to the next must not hash alike either.
        let shifted = [Part(name: "ab", contentType: "c", bytes: []), Part(name: "a", contentType: "bc", bytes: [])]
        let unshifted = [Part(name: "a", contentType: "bc", bytes: []), Part(name: "ab", contentType: "c", bytes: [])]
        let boundaries = [form, .init(parts: changed), .init(parts: renamed), .init(parts: noFile), .init(parts: retyped), .init(parts: shifted), .init(parts: unshifted)].map(\.boundary)
        #expect(Set(boundaries).count == boundaries.count)
    }

    @Test("a boundary candidate found inside a part's content or header is passed over for the next")
    func boundaryNotInContent() {
        let parts = [
            Part(name: "a", contentType: "text/plain", bytes: Array("xx--first-candidate--xx".utf8)),
            Part(name: "second-candidate", contentType: "text/plain", bytes: []),
        ]
        let chosen = MultipartFormData.chooseBoundary(heads: parts.map(MultipartFormData.head), parts: parts) {
            ["first-candidate", "second-candidate", "third-candidate"][$0]
        }
        #expect(chosen == "third-candidate")
        // A part carrying the boundary the form would otherwise pick (its first candidate for these parts) still
        // encodes to a body whose boundary appears only as delimiters.
        let form = MultipartFormData(parts: Self.formParts + [Part(name: "echo", contentType: "text/plain", bytes: Array(MultipartFormData(parts: Self.formParts).boundary.utf8))])
        #expect(Self.count(form.boundary, in: form.body) == Self.formParts.count + 2)
    }

    @Test("the boundary occurs only in the delimiter lines, for contents full of dashes and line breaks", arguments: 0..<20)
    func boundaryOnlyInDelimiters(seed: Int) throws {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        let alphabet = Array("-\r\nmtsync0123456789abcdef\"ü".utf8)
        let parts = (0..<Int(next() % 4 + 1)).map { index in
            Part(name: "p\(index)", fileName: index % 2 == 0 ? "f\(index).csv" : nil, contentType: "text/csv",
                 bytes: (0..<Int(next() % 2_000)).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] })
        }
        let form = MultipartFormData(parts: parts)
        #expect(Self.count(form.boundary, in: form.body) == parts.count + 1)
        #expect(try Self.parse(form.body, boundary: form.boundary).map(\.content) == parts.map(\.bytes))
    }

    @Test("names, file names and content types cannot break out of their quotes, line or header block", arguments: [
        (#"a"b"#, "a%22b"),
        ("line\r\nContent-Type: text/html", "line%0D%0AContent-Type: text/html"),
        ("x\"; filename=\"evil.sh", "x%22; filename=%22evil.sh"),
        (#"trailing\"#, "trailing%5C"),
        ("tab\there\u{7F}\u{0}", "tab%09here%7F%00"),
        ("Müller ✓ €.csv", "Müller ✓ €.csv"),
        ("100% plain; ok=1", "100% plain; ok=1"),
    ])
    func escaping(raw: String, sent: String) throws {
        let form = MultipartFormData(parts: [Part(name: raw, fileName: raw, contentType: raw, bytes: Array("v".utf8))])
        let parsed = try Self.parse(form.body, boundary: form.boundary)
        #expect(parsed == [Parsed(
            headers: ["Content-Disposition: form-data; name=\"\(sent)\"; filename=\"\(sent)\"", "Content-Type: \(sent)"],
            content: Array("v".utf8))])
        #expect(MultipartFormData.escaped(raw) == sent)
    }

    @Test("a form with no parts is only the closing delimiter")
    func empty() {
        let form = MultipartFormData(parts: [])
        #expect(form.body == Array("--\(form.boundary)--\r\n".utf8))
    }
}
