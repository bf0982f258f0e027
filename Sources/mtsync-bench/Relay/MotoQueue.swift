import AsyncHTTPClient
import MTSyncIngest

/// A fresh standard queue on an SQS-compatible endpoint (moto_server) for one run, and the relay's real SQS sink
/// for it. A queue per run, so the message count read back afterwards is that run's alone.
struct MotoQueue: Sendable {
    let client: SQSClient
    let queueURL: String

    /// moto checks neither the key nor the signature, but the client signs every call all the same (SigV4
    /// included in what is timed, as against real SQS).
    static func create(endpoint: String, httpClient: HTTPClient, name: String) async throws -> MotoQueue {
        let settings = AWSSettings(
            credentials: AWSCredentials(accessKeyID: "AKIARELAYBENCH000000", secretAccessKey: "relay-bench-not-a-secret", source: "mtsync-relay-bench"),
            region: "us-east-1", endpoint: endpoint)
        let client = SQSClient(settings: settings, httpClient: httpClient)
        // SQS's largest message, so messages carry as many events as SQS allows (~340 of ~750 bytes).
        let created = try await client.call(
            SQSProtocol.CreateQueue.self, .init(queueName: name, attributes: ["MaximumMessageSize": "262144"]))
        return MotoQueue(client: client, queueURL: created.QueueUrl)
    }

    func sink() async throws -> SQSSink {
        try await SQSSink.connect(client: client, queueURL: queueURL)
    }

    /// Messages the queue holds (moto counts exactly; real SQS's figure is approximate).
    func messageCount() async throws -> Int {
        let answer = try await client.call(
            SQSProtocol.GetQueueAttributes.self, .init(queueURL: queueURL, attributeNames: ["ApproximateNumberOfMessages"]))
        return answer.Attributes["ApproximateNumberOfMessages"].flatMap(Int.init) ?? -1
    }
}
