import AsyncHTTPClient
import Foundation
@testable import MTSyncIngest
import MTSyncTestSupport
import NIOCore
import NIOPosix
import Testing

@Suite("File ingest client: one multipart upload per batch against a real form parser, classified so no batch is lost")
struct FileIngestClientTests {
    static let apiKey = "fik-SECRET-7f3a9c2e41d8b6057"
    static let triggerID = "trg-daily-feed"
    /// Quotes, commas inside quotes, non-ASCII in two and three bytes, CRLF row ends and a bare LF inside a field.
    static let csvText = "login,name,day,volume\r\n1001,\"Smith, \"\"JJ\"\"\",2025-01-02,1.50\r\n1002,Müller ✓ 東京,2025-01-02,\"2\n0\"\r\n"

    static func client(url: String, apiKey: String = FileIngestClientTests.apiKey, triggerID: String = FileIngestClientTests.triggerID,
                       timeout: Duration = .seconds(10), maximumResponseBytes: Int = 4 << 10) throws -> FileIngestClient {
        try FileIngestClient(
            configuration: .init(url: url, triggerID: triggerID, apiKey: try FileIngestKey(apiKey), requestTimeout: timeout, maximumResponseBytes: maximumResponseBytes),
            httpClient: HTTPClient.shared)
    }

    static func upload(_ client: FileIngestClient, batchID: String = "2025-01-02-0001") async -> FileIngestOutcome {
        await client.upload(batchID: batchID, source: "mtsync", csv: Array(csvText.utf8), fileName: "daily-2025-01-02.csv")
    }

    static func printed(_ value: some Any) -> [String] {
        var dumped = ""
        dump(value, to: &dumped)
        return [String(describing: value), "\(value)", String(reflecting: value), dumped]
    }

    // MARK: Against the server

    @Test("the CSV bytes, the metadata, the trigger id and the file's name and type arrive exactly as given")
    func roundTrip() async throws {
        try await FileIngestServer.run(apiKey: Self.apiKey) { server in
            let trigger = "trg/ü &x=1+2#"
            let batchID = "batch \"7\" \\ Zürich\n"
            let client = try Self.client(url: server.url + "?tenant=acme", triggerID: trigger)
            let outcome = await client.upload(batchID: batchID, source: "mtsync", csv: Array(Self.csvText.utf8), fileName: "daily-2025-01-02.csv")
            #expect(outcome == .accepted(status: 200, responseBody: #"{"status": "queued", "id": "1"}"#), "\(server.requestLog())")

            let uploads = try await server.uploads()
            let upload = try #require(uploads.first)
            #expect(uploads.count == 1)
            #expect(upload.csvBytes == Array(Self.csvText.utf8))
            #expect(upload.csv == Self.csvText)
            #expect(upload.metadataText == #"{"source":"mtsync","batch_id":"batch \"7\" \\ Zürich\n"}"#)
            #expect(upload.metadata == ["source": "mtsync", "batch_id": batchID])
            #expect(upload.triggerID == trigger)
            #expect(upload.contentType == "text/csv")
            #expect(upload.fileName == "daily-2025-01-02.csv")
            #expect(server.requestLog().contains("POST /apis/v1/data-workflows/file-ingests?tenant=acme&trigger_id=trg%2F%C3%BC%20%26x%3D1%2B2%23 -> 200"), "\(server.requestLog())")

            // The log holds the same upload, one JSON line.
            let logged = try String(contentsOf: server.logFile, encoding: .utf8).split(separator: "\n")
            #expect(logged.count == 1)
            #expect(try JSONDecoder().decode(FileIngestServer.Upload.self, from: Data(logged[0].utf8)) == upload)
        }
    }

    @Test("a file name with quotes and line breaks reaches the parser as one file name, not as extra fields")
    func hostileFileName() async throws {
        try await FileIngestServer.run(apiKey: Self.apiKey) { server in
            let client = try Self.client(url: server.url)
            let outcome = await client.upload(batchID: "b", source: "s", csv: Array("a\r\n".utf8), fileName: "x\"; name=\"metadata\r\nX: y.csv")
            guard case .accepted = outcome else {
                Issue.record("not accepted: \(outcome)\n\(server.requestLog())")
                return
            }
            let upload = try #require(try await server.uploads().first)
            // werkzeug turns %22 back into a quote (the HTML standard's encoding); CR and LF stay encoded.
            #expect(upload.fileName == "x\"; name=\"metadata%0D%0AX: y.csv")
            #expect(upload.metadata == ["source": "s", "batch_id": "b"])
            #expect(upload.csvBytes == Array("a\r\n".utf8))
        }
    }

    @Test("a wrong API key is a retry that says to check the key, and neither the reason nor a printout holds the key")
    func wrongKey() async throws {
        try await FileIngestServer.run(apiKey: Self.apiKey) { server in
            let wrongKey = "fik-WRONG-0000000000000000000"
            let client = try Self.client(url: server.url, apiKey: wrongKey)
            let outcome = await Self.upload(client)
            guard case .retry(let reason, let after) = outcome else {
                Issue.record("expected a retry, got \(outcome)")
                return
            }
            #expect(reason.contains("401") && reason.contains("check the API key (x-api-key)"), "\(reason)")
            #expect(after == nil)
            for text in [reason] + Self.printed(client) + Self.printed(client.configuration) + Self.printed(outcome) {
                #expect(!text.contains(wrongKey) && !text.contains(Self.apiKey), "\(text)")
            }
            #expect(try await server.uploads().isEmpty)
            #expect(server.requestLog().contains("-> 401 bad key"))
        }
    }

    @Test("faults 500 then 429 are two retries (429 honouring Retry-After: 0), then the same upload is accepted once")
    func faultsThenAccepted() async throws {
        try await FileIngestServer.run(apiKey: Self.apiKey, faults: [500, 429]) { server in
            let client = try Self.client(url: server.url)
            let first = await Self.upload(client)
            let second = await Self.upload(client)
            let third = await Self.upload(client)
            guard case .retry(let reason500, let after500) = first, case .retry(let reason429, let after429) = second else {
                Issue.record("expected two retries, got \(first) and \(second)")
                return
            }
            #expect(reason500.hasPrefix("the file ingest answered 500") && after500 == nil, "\(reason500)")
            #expect(reason429.hasPrefix("the file ingest answered 429") && after429 == .zero, "\(reason429)")
            #expect(third == .accepted(status: 200, responseBody: #"{"status": "queued", "id": "1"}"#))
            #expect(try await server.uploads().map(\.metadata) == [["source": "mtsync", "batch_id": "2025-01-02-0001"]])
        }
    }

    enum Expected: Sendable, CustomStringConvertible {
        case rejected, retry(containing: String)
        var description: String {
            switch self {
            case .rejected: "rejected"
            case .retry(let text): "retry: \(text)"
            }
        }
    }

    @Test("each status is classified: other 4xx refuse the batch; the ones that blame the configuration or the moment retry", arguments: [
        (400, Expected.rejected), (413, .rejected), (422, .rejected), (409, .rejected),
        (401, .retry(containing: "check the API key")), (403, .retry(containing: "check the API key")),
        (404, .retry(containing: "check the URL")), (405, .retry(containing: "check the URL")),
        (408, .retry(containing: "answered 408")), (502, .retry(containing: "answered 502")), (503, .retry(containing: "answered 503")),
    ])
    func statusClassification(status: Int, expected: Expected) async throws {
        try await FileIngestServer.run(apiKey: Self.apiKey, faults: [status]) { server in
            let outcome = await Self.upload(try Self.client(url: server.url))
            switch (expected, outcome) {
            case (.rejected, .rejected(let answered, let body)):
                #expect(answered == status)
                #expect(body == #"{"error": "injected fault \#(status)"}"#)
            case (.retry(let text), .retry(let reason, _)):
                #expect(reason.contains(text), "\(reason)")
                #expect(reason.contains("injected fault \(status)"), "the service's own words are kept: \(reason)")
                #expect(!reason.contains(Self.apiKey))
            default:
                Issue.record("status \(status): expected \(expected), got \(outcome)")
            }
            #expect(try await server.uploads().isEmpty)
        }
    }

    @Test("a closed port is a retry saying there was no answer")
    func closedPort() async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)
        try await channel.close()
        // AsyncHTTPClient keeps trying to connect until the deadline: a short one keeps the test short.
        let outcome = await Self.upload(try Self.client(url: "http://127.0.0.1:\(port)/apis/v1/data-workflows/file-ingests", timeout: .seconds(1)))
        guard case .retry(let reason, nil) = outcome else {
            Issue.record("expected a retry without delay, got \(outcome)")
            return
        }
        #expect(reason.hasPrefix("no answer from the file ingest at http://127.0.0.1:\(port)/apis/v1/data-workflows/file-ingests: "), "\(reason)")
        #expect(reason.contains("Connection refused") || reason.contains("connect"), "\(reason)")
        #expect(reason.count < 1_000, "\(reason)")
        #expect(!reason.contains(Self.apiKey))
    }

    @Test("an answer slower than the request timeout is a retry that names the timeout")
    func timeout() async throws {
        // The server would answer after 30 s; giving up far sooner proves the timeout ends the wait. The bound is
        // wide on purpose: on a loaded 2-core CI machine a 300 ms timer has fired seconds late (how fast it gives
        // up is a matter for benchmarks, not for this test).
        try await FileIngestServer.run(apiKey: Self.apiKey, delay: .seconds(30)) { server in
            let started = ContinuousClock.now
            let outcome = await Self.upload(try Self.client(url: server.url, timeout: .milliseconds(300)))
            #expect(ContinuousClock.now - started < .seconds(10))
            guard case .retry(let reason, nil) = outcome else {
                Issue.record("expected a retry, got \(outcome)")
                return
            }
            #expect(reason.contains("no complete answer within 0.3 seconds"), "\(reason)")
        }
    }

    @Test("only the first maximumResponseBytes of the answer are kept")
    func responseCap() async throws {
        try await FileIngestServer.run(apiKey: Self.apiKey) { server in
            let outcome = await Self.upload(try Self.client(url: server.url, maximumResponseBytes: 10))
            #expect(outcome == .accepted(status: 200, responseBody: #"{"status":"#))
        }
    }

    // MARK: Pure parts

    @Test("the metadata is exactly {\"source\":…,\"batch_id\":…}, JSON-escaped", arguments: [
        ("mtsync", "2025-01-02-0001", #"{"source":"mtsync","batch_id":"2025-01-02-0001"}"#),
        ("a\"b", "c\\d", #"{"source":"a\"b","batch_id":"c\\d"}"#),
        ("tab\tline\r\n", "\u{1}\u{1F}/ü", #"{"source":"tab\tline\r\n","batch_id":"\u0001\u001f/ü"}"#),
    ])
    func metadataJSON(source: String, batchID: String, json: String) throws {
        #expect(FileIngestClient.metadataJSON(source: source, batchID: batchID) == json)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String]
        #expect(parsed == ["source": source, "batch_id": batchID])
    }

    @Test("the form has the metadata then the CSV file, text/csv, bytes untouched")
    func form() {
        let form = FileIngestClient.form(batchID: "b1", source: "mtsync", csv: Array(Self.csvText.utf8), fileName: "f.csv")
        #expect(form.parts.map(\.name) == ["metadata", "data"])
        #expect(form.parts.map(\.fileName) == [nil, "f.csv"])
        #expect(form.parts.map(\.contentType) == ["application/json", "text/csv"])
        #expect(form.parts[1].bytes == Array(Self.csvText.utf8))
    }

    @Test("trigger_id is percent-encoded and added to the URL's query, keeping what is there", arguments: [
        ("https://h.example/apis/v1/file-ingests", "trg-1", "https://h.example/apis/v1/file-ingests?trigger_id=trg-1"),
        ("https://h.example/x?tenant=acme", "trg-1", "https://h.example/x?tenant=acme&trigger_id=trg-1"),
        ("https://h.example/x?", "trg-1", "https://h.example/x?trigger_id=trg-1"),
        ("https://h.example/x?a=1&", "t", "https://h.example/x?a=1&trigger_id=t"),
        ("http://127.0.0.1:8080/x", "a b&c=d+e/f?g#h~._-", "http://127.0.0.1:8080/x?trigger_id=a%20b%26c%3Dd%2Be%2Ff%3Fg%23h~._-"),
        ("https://h.example/x", "ü", "https://h.example/x?trigger_id=%C3%BC"),
    ])
    func requestURL(url: String, trigger: String, expected: String) throws {
        let configuration = FileIngestClient.Configuration(url: url, triggerID: trigger, apiKey: try FileIngestKey(Self.apiKey))
        #expect(throws: Never.self) { try configuration.validate() }
        #expect(configuration.requestURL == expected)
    }

    @Test("a configuration that cannot work is refused with what to change", arguments: [
        ("ftp://h.example/x", "trg", 10, "is not an absolute http:// or https:// URL"),
        ("h.example/x", "trg", 10, "is not an absolute http:// or https:// URL"),
        ("https://u:pw@h.example/x", "trg", 10, "carries a user name or password"),
        ("https://h.example/x#frag", "trg", 10, "has a #fragment"),
        ("https://h.example/x?trigger_id=old", "trg", 10, "already has a trigger_id parameter"),
        ("https://h.example/x", "", 10, "trigger id is empty"),
        ("https://h.example/x", "trg", 0, "timeout is 0.0 seconds; it must be positive"),
    ])
    func invalidConfiguration(url: String, trigger: String, timeoutSeconds: Int, problem: String) throws {
        let configuration = FileIngestClient.Configuration(url: url, triggerID: trigger, apiKey: try FileIngestKey(Self.apiKey), requestTimeout: .seconds(timeoutSeconds))
        let error = try #require(throws: HTTPIngestError.self) { try FileIngestClient(configuration: configuration, httpClient: HTTPClient.shared) }
        #expect(error.message.contains(problem), "\(error)")
        #expect(!error.description.contains("pw"))
    }

    @Test("the API key prints as (secret) however it is printed; the configuration shows the redacted URL only")
    func keyRedacted() throws {
        let key = try FileIngestKey(Self.apiKey)
        for text in Self.printed(key) {
            #expect(!text.contains(Self.apiKey), "\(text)")
        }
        #expect(key.description == "(secret)" && String(reflecting: key) == "(secret)" && "\(key)" == "(secret)")
        #expect(key.revealValue() == Self.apiKey)
        let configuration = FileIngestClient.Configuration(url: "https://h.example/x?token=QUERYSECRET", triggerID: "trg", apiKey: key)
        #expect(configuration.description == "FileIngestClient.Configuration(url: https://h.example/x, triggerID: trg, apiKey: (secret), requestTimeout: 60.0 seconds)")
        for text in Self.printed(configuration) {
            #expect(!text.contains(Self.apiKey) && !text.contains("QUERYSECRET"), "\(text)")
        }
    }

    @Test("an API key that is empty or holds a line break is refused without repeating it", arguments: ["", "key\n", "ke\r\ny", "k\u{0}"])
    func invalidKey(text: String) throws {
        let error = try #require(throws: HTTPIngestError.self) { try FileIngestKey(text) }
        #expect(error.code == .invalidConfiguration)
        #expect(text.isEmpty || !error.description.contains(text))
    }

    @Test("an answer or error that echoes the API key shows (secret) in its place")
    func echoedKeyRedacted() throws {
        let client = try Self.client(url: "https://h.example/x")
        #expect(client.redacted("invalid key \(Self.apiKey)!") == "invalid key (secret)!")
    }

    @Test("a body cut at the byte limit loses the character cut in two, nothing else", arguments: [
        ("abc", 0, "abc"), ("aü", 1, "a"), ("a東", 1, "a"), ("a東", 2, "a"), ("a😀", 1, "a"), ("a😀", 3, "a"), ("a😀", 0, "a😀"), ("ü", 2, ""),
    ])
    func cutText(whole: String, bytesCut: Int, kept: String) {
        #expect(FileIngestClient.text(Array(Array(whole.utf8).dropLast(bytesCut))) == kept)
    }
}
