/// Where the daily feed's batches go: an SQS queue for messages, the platform's file ingest for CSV uploads
/// (docs/ingest.md, "The daily feed"). One attempt per call; the sender retries, in order, with the same batch.
public protocol DailyFeedTransport: Sendable {
    /// Whether uploads can be sent (a file ingest is configured).
    var acceptsFiles: Bool { get }
    /// Sends one batch once. `.delivered` when the platform acknowledged it (SQS: a `MessageId`; the file ingest:
    /// a 2xx), with what it answered in `response`; never throws.
    func send(_ batch: DailyFeedOutgoing) async -> DailyFeedSendOutcome
}

/// A batch as the sender hands it over: its id, transport and the exact bytes stored with it.
public struct DailyFeedOutgoing: Sendable, Hashable {
    public var batchID: String
    /// `daily` (the daily rows) or `snapshots` (the tier snapshots): which trigger id a file upload goes under.
    public var feed: String
    public var transport: DailyFeedBatch.Transport
    public var rows: Int
    public var body: [UInt8]

    public init(batchID: String, feed: String = "daily", transport: DailyFeedBatch.Transport, rows: Int, body: [UInt8]) {
        self.batchID = batchID
        self.feed = feed
        self.transport = transport
        self.rows = rows
        self.body = body
    }
}

public enum DailyFeedSendOutcome: Sendable, Hashable {
    case delivered(response: String)
    /// Not acknowledged, worth trying again (429, 5xx, timeouts, throttling, an API key refused).
    case retry(reason: String, after: Duration?)
    /// Refused for good: the batch is parked with the reason (`mtsync feed retry` puts it back).
    case rejected(reason: String, response: String)
}
