/// What became of one message at the ingest.
public enum DeliveryOutcome: Sendable, Hashable {
    /// Acknowledged (SQS: in `Successful[]`; HTTP: 2xx): its events may be marked delivered.
    case delivered
    /// Not acknowledged, worth trying again (throttling, 5xx, timeouts, `SenderFault: false`); `after`, when
    /// the ingest said how long to wait (`Retry-After`).
    case retry(reason: String, after: Duration?)
    /// Refused for good (SQS `SenderFault: true`, HTTP 4xx other than 429): dead-lettered with the reason and
    /// what the ingest answered, never retried by itself.
    case rejected(reason: String, response: String)
}

/// A destination of the relay: AWS SQS or the HTTP data-ingest.
public protocol IngestSink: Sendable {
    /// The largest message body it takes, in bytes (SQS: the queue's `MaximumMessageSize`).
    var maximumMessageBytes: Int { get }
    /// How messages must be grouped (FIFO queues need groups).
    var grouping: MessageGrouping { get }
    /// Delivers `messages`, returning one outcome per message in the same order. Never throws for a message's
    /// fate; a sink that cannot reach the ingest at all answers `.retry` for each.
    func deliver(_ messages: [IngestMessage]) async -> [DeliveryOutcome]
}
