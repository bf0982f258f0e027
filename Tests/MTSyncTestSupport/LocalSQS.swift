import AsyncHTTPClient
import Foundation
import MTSyncIngest

/// The moto_server that scripts/test starts (`MTSYNC_TEST_SQS_ENDPOINT`): a real SQS-compatible server on
/// loopback. Tests make queues of their own on it, with unique names, and read every message back.
public enum LocalSQS {
    /// moto accepts any key; these are fake and say so.
    public static let credentials = AWSCredentials(accessKeyID: "AKIDMTSYNCTEST", secretAccessKey: "mtsync-test-secret-not-a-real-key")
    public static let region = "us-east-1"

    public struct NotRunning: Error, CustomStringConvertible {
        public var description: String {
            "MTSYNC_TEST_SQS_ENDPOINT is not set: the SQS tests need the moto_server that scripts/test starts; run the tests with scripts/test"
        }
    }

    public static func endpoint() throws -> String {
        guard let endpoint = ProcessInfo.processInfo.environment["MTSYNC_TEST_SQS_ENDPOINT"], !endpoint.isEmpty else { throw NotRunning() }
        return endpoint
    }

    /// The environment an mtsync process needs to reach moto as the configuration says.
    public static var processEnvironment: [String: String] {
        ["AWS_ACCESS_KEY_ID": credentials.accessKeyID, "AWS_SECRET_ACCESS_KEY": credentials.secretAccessKey, "AWS_REGION": region]
    }

    public static func client(_ httpClient: HTTPClient) throws -> SQSClient {
        SQSClient(settings: AWSSettings(credentials: credentials, region: region, endpoint: try endpoint()), httpClient: httpClient)
    }

    /// A new queue; FIFO names end in `.fifo`. Returns its URL.
    public static func createQueue(_ name: String, fifo: Bool = false, maximumMessageSize: Int? = nil, client: SQSClient) async throws -> String {
        var attributes: [String: String] = [:]
        if fifo { attributes["FifoQueue"] = "true" }
        if let maximumMessageSize { attributes["MaximumMessageSize"] = String(maximumMessageSize) }
        let queueName = fifo ? name + ".fifo" : name
        return try await client.call(SQSProtocol.CreateQueue.self, .init(queueName: queueName, attributes: attributes.isEmpty ? nil : attributes)).QueueUrl
    }

    /// Every message in the queue, received and deleted, in the order SQS handed them out.
    public static func drain(_ queueURL: String, client: SQSClient) async throws -> [SQSProtocol.ReceiveMessage.Message] {
        var all: [SQSProtocol.ReceiveMessage.Message] = []
        var emptyAnswers = 0
        while emptyAnswers < 2 {
            let answer = try await client.call(SQSProtocol.ReceiveMessage.self, .init(queueURL: queueURL, maxNumberOfMessages: 10, waitTimeSeconds: 0, visibilityTimeout: 60))
            if answer.Messages.isEmpty {
                emptyAnswers += 1
                continue
            }
            emptyAnswers = 0
            all += answer.Messages
            let entries = answer.Messages.enumerated().map { SQSProtocol.DeleteMessageBatch.Entry(id: String($0.offset), receiptHandle: $0.element.ReceiptHandle) }
            _ = try await client.call(SQSProtocol.DeleteMessageBatch.self, .init(queueURL: queueURL, entries: entries))
        }
        return all
    }

    /// A unique queue name for one test.
    public static func uniqueName(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }
}

/// The events inside ingest messages (docs/ingest.md), as tests compare them with the store.
public struct ReceivedEvent: Hashable, Sendable {
    public var messageKey: String
    public var idempotencyKey: String
    public var kind: String
    public var login: Int64?

    /// Parses one message body; throws when it is not an envelope.
    public static func parse(_ body: String) throws -> [ReceivedEvent] {
        guard let envelope = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let key = envelope["message_key"] as? String, let events = envelope["events"] as? [[String: Any]]
        else { throw NotAnEnvelope(body: String(body.prefix(200))) }
        return try events.map { event in
            guard let idempotencyKey = event["idempotency_key"] as? String, let kind = event["kind"] as? String else {
                throw NotAnEnvelope(body: String(body.prefix(200)))
            }
            let payload = (event["fact"] ?? event["aggregate"] ?? event["backfill"]) as? [String: Any]
            return ReceivedEvent(messageKey: key, idempotencyKey: idempotencyKey, kind: kind, login: (payload?["login"] as? NSNumber)?.int64Value)
        }
    }

    public struct NotAnEnvelope: Error, CustomStringConvertible {
        public let body: String
        public var description: String { "not an ingest envelope: \(body)" }
    }
}
