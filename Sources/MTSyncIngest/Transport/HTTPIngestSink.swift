import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The relay's HTTP data-ingest destination (docs/ingest.md, "HTTP data-ingest"): one signed `POST` per message,
/// up to `maximumConcurrentRequests` at once. 2xx delivers; 408, 429, 5xx and no answer are retried (honouring
/// `Retry-After`), and so are 401, 403, 404, 405 and 407, which blame the configuration rather than the message;
/// any other status refuses the message for good, with the ingest's answer kept for the dead letter.
public struct HTTPIngestSink: IngestSink {
    public let configuration: HTTPIngestConfiguration
    public let httpClient: HTTPClient
    /// Unix seconds for the signature's timestamp; fixed in tests.
    let now: @Sendable () -> Int64

    public var maximumMessageBytes: Int { configuration.maximumMessageBytes }
    /// HTTP gives no order between concurrent requests, so messages are not grouped (receivers order by revision).
    public var grouping: MessageGrouping { .none }

    public init(configuration: HTTPIngestConfiguration, httpClient: HTTPClient, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) throws(HTTPIngestError) {
        try configuration.validate()
        self.configuration = configuration
        self.httpClient = httpClient
        self.now = now
    }

    public func deliver(_ messages: [IngestMessage]) async -> [DeliveryOutcome] {
        var outcomes = [DeliveryOutcome?](repeating: nil, count: messages.count)
        await withTaskGroup(of: (Int, DeliveryOutcome).self) { group in
            var next = 0
            func startNext() {
                guard next < messages.count else { return }
                let index = next
                next += 1
                let message = messages[index]
                group.addTask { (index, await post(message)) }
            }
            for _ in 0..<min(configuration.maximumConcurrentRequests, messages.count) { startNext() }
            while let (index, outcome) = await group.next() {
                outcomes[index] = outcome
                startNext()
            }
        }
        return outcomes.map { $0 ?? .retry(reason: "not sent", after: nil) }
    }

    func post(_ message: IngestMessage) async -> DeliveryOutcome {
        let body = Array(message.body.utf8)
        guard body.count <= configuration.maximumMessageBytes else {
            return .rejected(reason: "the message body is \(body.count) bytes, over the HTTP ingest's limit of \(configuration.maximumMessageBytes) bytes (ingest.http.max_message_bytes)", response: "")
        }
        let timestamp = now()
        var request = HTTPClientRequest(url: configuration.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Content-Length", value: String(body.count))
        request.headers.add(name: "Idempotency-Key", value: message.key)
        request.headers.add(name: HTTPIngestSignature.timestampHeader, value: String(timestamp))
        request.headers.add(name: HTTPIngestSignature.signatureHeader,
                            value: HTTPIngestSignature.signature(key: configuration.secret.revealBytes(), timestamp: timestamp, body: body))
        if let credential = configuration.credential {
            request.headers.add(name: credential.headerName, value: credential.revealValue())
        }
        request.body = .bytes(ByteBuffer(bytes: body))

        let status: UInt
        let retryAfter: String?
        let answer: String
        do {
            let response = try await httpClient.execute(request, timeout: TimeAmount(configuration.requestTimeout))
            status = response.status.code
            retryAfter = response.headers.first(name: "Retry-After")
            var collected = try await response.body.collect(upTo: 16 << 20)
            answer = collected.readString(length: min(collected.readableBytes, configuration.maximumResponseBytes)) ?? ""
        } catch {
            return .retry(reason: "no answer from \(configuration.redactedURL): \(error)", after: nil)
        }
        switch status {
        case 200..<300:
            return .delivered
        case 408, 429, 500...599:
            let delay = retryAfter.flatMap { HTTPIngestRetryAfter.delay($0, now: now()) }.map { min($0, configuration.maximumRetryAfter) }
            return .retry(reason: "the HTTP ingest answered \(status)\(IngestAnswer.detail(answer))", after: delay)
        case 401, 403, 404, 405, 407:
            // Our credential, signature or URL is wrong, not the message: dead-lettering every event until an
            // operator notices would only make work. They wait (and park after max_attempts) while the error shows.
            return .retry(reason: "the HTTP ingest answered \(status) (check the URL, the signing secret and the token)\(IngestAnswer.detail(answer))", after: nil)
        default:
            return .rejected(reason: "the HTTP ingest refused the message with status \(status)", response: answer)
        }
    }

}
