import Foundation
import MTSyncIngest
import Testing

@Suite("SigV4 signing: AWS's published test suite and botocore agree with the signer")
struct SigV4SignerTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    // MARK: AWS's Signature Version 4 test suite

    /// The cases of Fixtures/aws-sig-v4-test-suite (its SOURCE.md says where they come from).
    static let suiteCases = [
        "get-header-key-duplicate", "get-header-value-trim", "get-slashes", "get-space", "get-utf8", "get-vanilla",
        "get-vanilla-query", "get-vanilla-query-order-key", "get-vanilla-query-order-key-case", "get-vanilla-utf8-query",
        "get-vanilla-with-session-token", "post-sts-header-before", "post-vanilla-query", "post-x-www-form-urlencoded",
    ]
    static let suiteSigner = SigV4Signer(
        credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1", service: "service")
    /// 2015-08-30T12:36:00Z
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)

    /// A `.req` file: the request line (`METHOD path?query HTTP/1.1`), `Name:value` header lines, a blank line
    /// and the body.
    struct SuiteRequest {
        var method: String
        var path: String
        var query: String
        var headers: [SigV4Signer.Header]
        var body: [UInt8]

        init(parsing text: String) throws {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let requestLine = try #require(lines.first)
            let methodEnd = try #require(requestLine.firstIndex(of: " "))
            let versionStart = try #require(requestLine.range(of: " HTTP/", options: .backwards)).lowerBound
            method = String(requestLine[..<methodEnd])
            let target = requestLine[requestLine.index(after: methodEnd)..<versionStart]
            if let mark = target.firstIndex(of: "?") {
                path = String(target[..<mark])
                query = String(target[target.index(after: mark)...])
            } else {
                path = String(target)
                query = ""
            }
            headers = []
            var bodyLines: [Substring] = []
            var inBody = false
            for line in lines.dropFirst() {
                if inBody {
                    bodyLines.append(line)
                } else if line.isEmpty {
                    inBody = true
                } else {
                    let colon = try #require(line.firstIndex(of: ":"), "header line without a colon: \(line)")
                    headers.append(SigV4Signer.Header(String(line[..<colon]), String(line[line.index(after: colon)...])))
                }
            }
            body = Array(bodyLines.joined(separator: "\n").utf8)
        }
    }

    static func suiteFile(_ name: String, _ fileExtension: String) throws -> String? {
        let url = fixtures.appendingPathComponent("aws-sig-v4-test-suite/\(name)/\(name).\(fileExtension)")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return String(decoding: try Data(contentsOf: url), as: UTF8.self)
    }

    @Test("every case folder of the AWS suite fixture is in the table, with a request and an Authorization to check")
    func suiteIsComplete() throws {
        let folder = Self.fixtures.appendingPathComponent("aws-sig-v4-test-suite")
        let folders = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { name in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path, isDirectory: &isDirectory) && isDirectory.boolValue
            }
        #expect(Set(folders) == Set(Self.suiteCases))
        for name in Self.suiteCases {
            #expect(try Self.suiteFile(name, "req") != nil, "\(name).req")
            #expect(try Self.suiteFile(name, "authz") != nil, "\(name).authz")
        }
    }

    @Test("the canonical request, string to sign and Authorization match AWS's test suite", arguments: suiteCases)
    func awsSuite(name: String) throws {
        let request = try SuiteRequest(parsing: try #require(try Self.suiteFile(name, "req")))
        var signer = Self.suiteSigner
        // The suite's session-token cases carry the token in the request; the signer takes it from the credentials.
        signer.credentials.sessionToken = request.headers.last { $0.name.lowercased() == "x-amz-security-token" }?.value
        let signature = signer.sign(
            method: request.method, path: request.path, query: request.query, headers: request.headers, body: request.body,
            date: Self.suiteDate)

        if let canonicalRequest = try Self.suiteFile(name, "creq") {
            #expect(signature.canonicalRequest == canonicalRequest)
        }
        if let stringToSign = try Self.suiteFile(name, "sts") {
            #expect(signature.stringToSign == stringToSign)
        }
        let authorization = try #require(try Self.suiteFile(name, "authz"))
        #expect(signature.authorization == authorization)
        #expect(signature.headersToAdd.last == SigV4Signer.Header("Authorization", authorization))
    }

    // MARK: botocore

    /// One line of Fixtures/sigv4-botocore.jsonl, made by scripts/fixtures/sigv4-botocore.py.
    struct BotocoreCase: Decodable, Sendable, CustomTestStringConvertible {
        var name: String
        var method: String
        var path: String
        var query: String
        var headers: [[String]]
        var body: String
        var accessKeyID: String
        var secretAccessKey: String
        var sessionToken: String?
        var region: String
        var service: String
        /// Unix seconds.
        var date: Int64
        var canonicalRequest: String
        var stringToSign: String
        var authorization: String

        var testDescription: String { name }

        static func all() throws -> [BotocoreCase] {
            let data = try Data(contentsOf: SigV4SignerTests.fixtures.appendingPathComponent("sigv4-botocore.jsonl"))
            let decoder = JSONDecoder()
            return try data.split(separator: UInt8(ascii: "\n")).map { try decoder.decode(BotocoreCase.self, from: Data($0)) }
        }
    }

    @Test("the botocore fixture holds its forty generated cases, with and without session tokens and queries")
    func botocoreFixture() throws {
        let cases = try BotocoreCase.all()
        #expect(cases.count == 40)
        #expect(Set(cases.map(\.name)).count == cases.count)
        #expect(cases.contains { $0.sessionToken != nil })
        #expect(cases.contains { $0.sessionToken == nil })
        #expect(cases.contains { $0.headers.contains { $0 == ["X-Amz-Target", "AmazonSQS.SendMessageBatch"] } })
        #expect(cases.contains { !$0.query.isEmpty })
    }

    @Test("the canonical request, string to sign and Authorization match botocore's SigV4Auth", arguments: try BotocoreCase.all())
    func botocore(_ vector: BotocoreCase) throws {
        let headers = try vector.headers.map { pair in
            try #require(pair.count == 2)
            return SigV4Signer.Header(pair[0], pair[1])
        }
        let signer = SigV4Signer(
            credentials: AWSCredentials(accessKeyID: vector.accessKeyID, secretAccessKey: vector.secretAccessKey, sessionToken: vector.sessionToken),
            region: vector.region, service: vector.service)
        let signature = signer.sign(
            method: vector.method, path: vector.path, query: vector.query, headers: headers, body: Array(vector.body.utf8),
            date: Date(timeIntervalSince1970: TimeInterval(vector.date)))
        #expect(signature.canonicalRequest == vector.canonicalRequest)
        #expect(signature.stringToSign == vector.stringToSign)
        #expect(signature.authorization == vector.authorization)
    }

    // MARK: What the signer adds

    @Test("the headers to add are X-Amz-Date, the session token when there is one, and Authorization, as they were signed")
    func headersToAdd() {
        let signed = Self.suiteSigner.sign(
            method: "POST", path: "/", headers: [SigV4Signer.Header("Host", "sqs.us-east-1.amazonaws.com")], body: [UInt8](),
            date: Self.suiteDate)
        #expect(signed.headersToAdd.map(\.name) == ["X-Amz-Date", "Authorization"])
        #expect(signed.headersToAdd.first?.value == "20150830T123600Z")
        #expect(signed.authorization.hasSuffix("Signature=" + signed.signature))

        var temporary = Self.suiteSigner
        temporary.credentials.sessionToken = "token/+="
        let withToken = temporary.sign(
            method: "POST", path: "/", headers: [SigV4Signer.Header("Host", "sqs.us-east-1.amazonaws.com")], body: [UInt8](),
            date: Self.suiteDate)
        #expect(withToken.headersToAdd.map(\.name) == ["X-Amz-Date", "X-Amz-Security-Token", "Authorization"])
        #expect(withToken.headersToAdd[1].value == "token/+=")
        #expect(withToken.canonicalRequest.contains("\nx-amz-security-token:token/+=\n"))
        #expect(withToken.authorization.contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"))
    }

    @Test("an Authorization, X-Amz-Date or X-Amz-Security-Token already on the request is replaced, not signed as given")
    func staleHeadersReplaced() {
        let host = SigV4Signer.Header("Host", "example.amazonaws.com")
        let fresh = Self.suiteSigner.sign(method: "GET", path: "/", headers: [host], body: [UInt8](), date: Self.suiteDate)
        let retried = Self.suiteSigner.sign(
            method: "GET", path: "/",
            headers: [host, SigV4Signer.Header("Authorization", "AWS4-HMAC-SHA256 old"), SigV4Signer.Header("X-Amz-Date", "20000101T000000Z"),
                      SigV4Signer.Header("X-Amz-Security-Token", "stale")],
            body: [UInt8](), date: Self.suiteDate)
        #expect(retried == fresh)
    }

    @Test("the signing time is taken in UTC to the second, and the scope's date is its UTC day", arguments: [
        (0.0, "19700101T000000Z"),
        (951_868_799.0, "20000229T235959Z"),
        (1_440_938_160.999, "20150830T123600Z"),
        (253_402_300_799.0, "99991231T235959Z"),
    ])
    func signingTime(seconds: Double, stamp: String) {
        let signed = Self.suiteSigner.sign(
            method: "GET", path: "/", headers: [SigV4Signer.Header("Host", "example.amazonaws.com")], body: [UInt8](),
            date: Date(timeIntervalSince1970: seconds))
        #expect(signed.headersToAdd.first == SigV4Signer.Header("X-Amz-Date", stamp))
        #expect(signed.stringToSign.hasPrefix("AWS4-HMAC-SHA256\n\(stamp)\n\(stamp.prefix(8))/us-east-1/service/aws4_request\n"))
    }
}
