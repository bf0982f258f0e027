import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import MTSyncCore

/// The Returning.AI file ingest: one `POST <url>?trigger_id=<id>` per batch, authenticated by `x-api-key`, with a
/// `multipart/form-data` body of two fields, `metadata` (`{"source":…,"batch_id":…}`) and `data` (the batch as a
/// CSV file, `text/csv`, header row included). The service stores the file and queues a pointer; a 2xx means it
/// has the batch.
///
/// One call is one attempt: retrying, and remembering what was accepted, is the caller's job, because only the
/// caller knows whether the batch still needs to go. The client borrows `httpClient` and never shuts it down.
public struct FileIngestClient: Sendable, CustomStringConvertible, CustomReflectable {
    /// Where and how to upload. Validated when the client is made; prints without the API key.
    public struct Configuration: Sendable, CustomStringConvertible, CustomReflectable {
        /// The absolute http(s) endpoint, e.g. https://data-workflow.returning.ai/apis/v1/data-workflows/file-ingests.
        /// A query it has is kept; `trigger_id` is added to it.
        public var url: String
        /// The workflow trigger the files are for: the `trigger_id` query parameter, percent-encoded.
        public var triggerID: String
        public var apiKey: FileIngestKey
        /// From sending the request to the end of the answer; past it the upload is retried. Leave room for the
        /// largest batch on the slowest link: a timeout after the service stored the file means it gets it twice.
        public var requestTimeout: Duration
        /// How much of the answer's body is kept in the outcome.
        public var maximumResponseBytes: Int
        /// The longest `Retry-After` passed on; a service asking for more is asked again after this.
        public var maximumRetryAfter: Duration

        public init(
            url: String,
            triggerID: String,
            apiKey: FileIngestKey,
            requestTimeout: Duration = .seconds(60),
            maximumResponseBytes: Int = 4 << 10,
            maximumRetryAfter: Duration = .seconds(3_600)
        ) {
            self.url = url
            self.triggerID = triggerID
            self.apiKey = apiKey
            self.requestTimeout = requestTimeout
            self.maximumResponseBytes = maximumResponseBytes
            self.maximumRetryAfter = maximumRetryAfter
        }

        /// Checks every value; the first problem found, said so it can be fixed.
        public func validate() throws(HTTPIngestError) {
            try IngestURL.validate(
                url, what: "the file ingest URL", example: "https://data-workflow.returning.ai/apis/v1/data-workflows/file-ingests",
                credentialsAdvice: "the API key is configured on its own")
            guard !url.contains("#") else {
                throw HTTPIngestError(code: .invalidURL, message: "the file ingest URL \(redactedURL) has a #fragment: remove it")
            }
            guard !Self.queryNames(of: url).contains("trigger_id") else {
                throw HTTPIngestError(code: .invalidURL, message: "the file ingest URL \(redactedURL) already has a trigger_id parameter: remove it and configure the trigger id on its own")
            }
            guard !triggerID.isEmpty else {
                throw HTTPIngestError(code: .invalidConfiguration, message: "the file ingest trigger id is empty: configure the id of the workflow trigger the files are for")
            }
            guard requestTimeout > .zero else {
                throw HTTPIngestError(code: .invalidConfiguration, message: "the file ingest request timeout is \(requestTimeout); it must be positive (60 s is a sound default)")
            }
            guard maximumResponseBytes >= 0, maximumRetryAfter >= .zero else {
                throw HTTPIngestError(code: .invalidConfiguration, message: "the file ingest response-size and Retry-After limits must not be negative")
            }
        }

        /// The URL the upload goes to: `url` with `trigger_id=<percent-encoded id>` added to its query.
        public var requestURL: String {
            let parameter = "trigger_id=" + Self.percentEncoded(triggerID)
            guard let question = url.firstIndex(of: "?") else { return url + "?" + parameter }
            let query = url[url.index(after: question)...]
            return url + (query.isEmpty || query.hasSuffix("&") ? "" : "&") + parameter
        }

        /// The URL without user info, query or fragment: what logs and reasons show (a query may carry a key).
        public var redactedURL: String { IngestURL.redacted(url) }

        public var customMirror: Mirror {
            Mirror(self, children: [
                "url": redactedURL, "triggerID": triggerID, "apiKey": apiKey, "requestTimeout": requestTimeout,
                "maximumResponseBytes": maximumResponseBytes, "maximumRetryAfter": maximumRetryAfter,
            ], displayStyle: .struct)
        }

        public var description: String {
            "FileIngestClient.Configuration(url: \(redactedURL), triggerID: \(triggerID), apiKey: \(apiKey), requestTimeout: \(requestTimeout))"
        }

        /// The parameter names in the URL's query, as written.
        static func queryNames(of url: String) -> [Substring] {
            guard let question = url.firstIndex(of: "?") else { return [] }
            let query = url[url.index(after: question)...].prefix { $0 != "#" }
            return query.split(separator: "&").map { $0.prefix { $0 != "=" } }
        }

        /// RFC 3986 percent-encoding of everything but the unreserved characters, so no id can end the
        /// parameter (`&`, `#`) or change its meaning (`+` read as a space by form decoders).
        static func percentEncoded(_ text: String) -> String {
            var out = ""
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                     UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                    out.unicodeScalars.append(Unicode.Scalar(byte))
                default:
                    out += "%" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16, uppercase: true)
                }
            }
            return out
        }
    }

    public let configuration: Configuration
    public let httpClient: HTTPClient
    /// Unix seconds, for `Retry-After` dates; fixed in tests.
    let now: @Sendable () -> Int64

    public static let apiKeyHeader = "x-api-key"

    public init(configuration: Configuration, httpClient: HTTPClient, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) throws(HTTPIngestError) {
        try configuration.validate()
        self.configuration = configuration
        self.httpClient = httpClient
        self.now = now
    }

    /// Uploads one batch, once, and says what became of it. Never throws: a failure to reach the service is a
    /// `.retry`. No reason or kept body contains the API key.
    public func upload(batchID: String, source: String, csv: [UInt8], fileName: String) async -> FileIngestOutcome {
        let form = Self.form(batchID: batchID, source: source, csv: csv, fileName: fileName)
        var request = HTTPClientRequest(url: configuration.requestURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: form.contentType)
        request.headers.add(name: Self.apiKeyHeader, value: configuration.apiKey.revealValue())
        request.body = .bytes(ByteBuffer(bytes: form.body))

        let status: Int
        let retryAfter: String?
        let answer: String
        do {
            let response = try await httpClient.execute(request, timeout: TimeAmount(configuration.requestTimeout))
            status = Int(response.status.code)
            retryAfter = response.headers.first(name: "Retry-After")
            // The status is the service's decision: a body cut short after it changes nothing, so it is read
            // without failing, the first bytes kept and the rest drained (the connection can be reused).
            var kept: [UInt8] = []
            do {
                for try await chunk in response.body where kept.count < configuration.maximumResponseBytes {
                    kept += chunk.readableBytesView.prefix(configuration.maximumResponseBytes - kept.count)
                }
            } catch {}
            answer = redacted(Self.text(kept))
        } catch {
            return .retry(reason: redacted("no answer from the file ingest at \(configuration.redactedURL): \(Self.describe(error, timeout: configuration.requestTimeout))"), after: nil)
        }
        let detail = IngestAnswer.detail(answer)
        switch status {
        case 200..<300:
            return .accepted(status: status, responseBody: answer)
        case 408, 429, 500...599:
            let delay = retryAfter.flatMap { HTTPIngestRetryAfter.delay($0, now: now()) }.map { min($0, configuration.maximumRetryAfter) }
            return .retry(reason: "the file ingest answered \(status)\(detail)", after: delay)
        case 401, 403:
            // The key is wrong, revoked or not allowed this trigger: the batch is fine. Dropping batches until an
            // operator notices would lose data; they wait while the reason shows what to fix.
            return .retry(reason: "the file ingest answered \(status): check the API key (\(Self.apiKeyHeader)) and that it may use trigger \(configuration.triggerID)\(detail)", after: nil)
        case 404, 405, 407:
            // Blames the URL or the trigger id (a deleted trigger), not the batch: as above, and as the HTTP sink.
            return .retry(reason: "the file ingest answered \(status): check the URL \(configuration.redactedURL) and the trigger id \(configuration.triggerID)\(detail)", after: nil)
        case 400..<500:
            return .rejected(status: status, responseBody: answer)
        default:
            // 1xx or 3xx as a final answer (redirects not followed) or no HTTP status at all: nothing said the
            // batch is wrong.
            return .retry(reason: "the file ingest answered \(status), which is not an answer to an upload: check the URL \(configuration.redactedURL)\(detail)", after: nil)
        }
    }

    /// The request body: `metadata` first, so a service that streams the form knows the batch before its file.
    public static func form(batchID: String, source: String, csv: [UInt8], fileName: String) -> MultipartFormData {
        MultipartFormData(parts: [
            .init(name: "metadata", contentType: "application/json", bytes: Array(metadataJSON(source: source, batchID: batchID).utf8)),
            .init(name: "data", fileName: fileName, contentType: "text/csv", bytes: csv),
        ])
    }

    /// `{"source":<source>,"batch_id":<batchID>}`, exactly, both JSON strings.
    public static func metadataJSON(source: String, batchID: String) -> String {
        #"{"source":"# + JSONText.quoted(source) + #","batch_id":"# + JSONText.quoted(batchID) + "}"
    }

    /// `text` with the API key, should an answer or an error echo it, replaced by `(secret)`.
    func redacted(_ text: String) -> String {
        let key = configuration.apiKey.revealValue()
        return text.contains(key) ? text.replacingOccurrences(of: key, with: "(secret)") : text
    }

    /// UTF-8 text of the kept bytes, without a character the cut split in two.
    static func text(_ bytes: [UInt8]) -> String {
        var end = bytes.count
        // Back up over continuation bytes to the last character's first byte; drop it when incomplete.
        var start = end
        while start > 0, start > end - 4, bytes[start - 1] & 0xC0 == 0x80 { start -= 1 }
        if start > 0 {
            let lead = bytes[start - 1]
            let length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
            if end - (start - 1) < length { end = start - 1 }
        }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    static func describe(_ error: any Error, timeout: Duration) -> String {
        if let error = error as? HTTPClientError, error == .deadlineExceeded {
            return "no complete answer within \(timeout) (requestTimeout)"
        }
        return String(describing: error)
    }

    /// The configuration only: the borrowed `HTTPClient`'s own reflection would show its connection pool, with the
    /// headers (the API key) of requests in flight.
    public var customMirror: Mirror { Mirror(self, children: ["configuration": configuration], displayStyle: .struct) }

    public var description: String { "FileIngestClient(\(configuration))" }

}

/// What became of one upload.
public enum FileIngestOutcome: Sendable, Hashable {
    /// A 2xx: the service has the batch. `responseBody` is the first `maximumResponseBytes` of its answer.
    case accepted(status: Int, responseBody: String)
    /// Not accepted, worth sending again: 408, 429, 5xx, no answer in time or no connection, and the answers that
    /// blame the configuration (401, 403: the API key; 404, 405, 407: the URL or trigger) rather than the batch.
    /// `after`, when the service said how long to wait (`Retry-After`, capped at `maximumRetryAfter`).
    case retry(reason: String, after: Duration?)
    /// Refused for good (any other 4xx, e.g. 400, 413, 422): sending the same batch again will not help.
    case rejected(status: Int, responseBody: String)
}
