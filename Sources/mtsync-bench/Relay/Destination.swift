import AsyncHTTPClient
import Foundation
import MTSyncIngest

/// Where one run delivers: the relay's real sink for it, and the far end's own count to check it against.
enum Destination: Sendable {
    /// A loopback ingest of its own per run (counters from zero) and the real HTTPIngestSink posting to it.
    case http(LoopbackIngest, HTTPIngestSink)
    /// A fresh moto queue per run and the real SQSSink sending to it.
    case sqs(MotoQueue, SQSSink)

    static func make(_ target: BenchOptions.Target, options: BenchOptions, httpClient: HTTPClient) async throws -> Destination {
        switch target {
        case .http:
            let secret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
            let ingest = try await LoopbackIngest.start(verifySecret: options.verifySignatures ? Array(secret.utf8) : nil)
            let configuration = HTTPIngestConfiguration(
                url: ingest.url, secret: try HTTPIngestSecret(secret), maximumConcurrentRequests: options.concurrency)
            return .http(ingest, try HTTPIngestSink(configuration: configuration, httpClient: httpClient))
        case .sqs:
            guard let endpoint = options.sqsEndpoint else { throw BenchFailure(description: "no --sqs-endpoint for the SQS run") }
            let queue = try await MotoQueue.create(
                endpoint: endpoint, httpClient: httpClient, name: "mtsync-relay-bench-\(UInt32.random(in: 0...UInt32.max))")
            return .sqs(queue, try await queue.sink())
        }
    }

    var sink: any IngestSink {
        switch self {
        case .http(_, let sink): sink
        case .sqs(_, let sink): sink
        }
    }

    /// Messages the far end took, by its own count; throws when it refused any signature.
    func receivedMessages() async throws -> Int {
        switch self {
        case .http(let ingest, _):
            let bad = ingest.counters.badSignatures.load(ordering: .relaxed)
            guard bad == 0 else { throw BenchFailure(description: "the loopback ingest refused \(bad) request(s) for a bad X-Mtsync-Signature") }
            return ingest.counters.requests.load(ordering: .relaxed)
        case .sqs(let queue, _):
            return try await queue.messageCount()
        }
    }

    func stop() async {
        if case .http(let ingest, _) = self { await ingest.stop() }
    }
}
