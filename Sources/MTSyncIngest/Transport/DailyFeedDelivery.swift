
/// The daily feed's transport (docs/ingest.md, "The daily feed"): message batches to an SQS queue, one message per
/// batch, and file batches to the platform's file ingest. On a FIFO queue the `batch_id` is also the message's
/// deduplication id, so SQS itself drops a resend inside its five-minute window.
public struct DailyFeedDelivery: DailyFeedTransport {
    public let sqs: SQSClient
    public let queueURL: String
    public let isFIFO: Bool
    /// The queue's `MaximumMessageSize`.
    public let maximumMessageBytes: Int
    public let files: FileIngestClient?
    public let source: String
    /// The file ingest under the tier snapshots' trigger id, and their source name (`feed.snapshots`).
    public var snapshotFiles: FileIngestClient?
    public var snapshotSource: String?

    public var acceptsFiles: Bool { files != nil }

    public init(sqs: SQSClient, queueURL: String, isFIFO: Bool, maximumMessageBytes: Int, files: FileIngestClient?, source: String) {
        self.sqs = sqs
        self.queueURL = queueURL
        self.isFIFO = isFIFO
        self.maximumMessageBytes = maximumMessageBytes
        self.files = files
        self.source = source
    }

    /// Reads the queue's `MaximumMessageSize` and whether it is FIFO; fails when the queue cannot be read.
    public static func connect(sqs: SQSClient, queueURL: String, files: FileIngestClient?, source: String) async throws(SQSError) -> DailyFeedDelivery {
        let answer = try await sqs.call(SQSProtocol.GetQueueAttributes.self, .init(queueURL: queueURL, attributeNames: ["MaximumMessageSize", "FifoQueue"]))
        let size = answer.Attributes["MaximumMessageSize"].flatMap(Int.init) ?? 262_144
        let fifo = answer.Attributes["FifoQueue"] == "true" || queueURL.hasSuffix(".fifo")
        return DailyFeedDelivery(sqs: sqs, queueURL: queueURL, isFIFO: fifo, maximumMessageBytes: size, files: files, source: source)
    }

    public func send(_ batch: DailyFeedOutgoing) async -> DailyFeedSendOutcome {
        switch batch.transport {
        case .sqs: return await sendMessage(batch)
        case .file: return await upload(batch)
        }
    }

    private func sendMessage(_ batch: DailyFeedOutgoing) async -> DailyFeedSendOutcome {
        guard batch.body.count <= maximumMessageBytes else {
            return .rejected(reason: "batch \(batch.batchID) has \(batch.body.count) bytes, over the queue's MaximumMessageSize of \(maximumMessageBytes); lower feed.max_message_bytes and run `mtsync feed retry`", response: "")
        }
        // One message, one FIFO group: the platform must see the feed's batches in the order they were queued.
        let entry = SQSProtocol.SendMessageBatch.Entry(
            id: "0", body: String(decoding: batch.body, as: UTF8.self), groupID: isFIFO ? "mtsync-daily-feed" : nil, deduplicationID: isFIFO ? batch.batchID : nil)
        let planned = SQSBatchPlanner.Batch(messageIndices: [0], entries: [entry], byteCount: batch.body.count)
        do {
            let answer = try await sqs.call(SQSProtocol.SendMessageBatch.self, .init(queueURL: queueURL, entries: [entry]))
            switch SQSBatchPlanner.outcomes(of: planned, response: answer).first?.outcome {
            case .delivered?:
                return .delivered(response: "SQS MessageId \(answer.Successful.first?.MessageId ?? "?")")
            case .rejected(let reason, let response)?:
                return .rejected(reason: reason, response: response)
            case .retry(let reason, let after)?:
                return .retry(reason: reason, after: after)
            case nil:
                return .retry(reason: "SQS answered without the message", after: nil)
            }
        } catch {
            switch error.kind {
            case .sender: return .rejected(reason: "SQS refused the message: \(error)", response: error.message)
            case .throttled, .transport, .server, .configuration: return .retry(reason: "SQS: \(error)", after: nil)
            }
        }
    }

    private func upload(_ batch: DailyFeedOutgoing) async -> DailyFeedSendOutcome {
        // A snapshot file goes under the snapshots' trigger id (the file ingest names it in the URL).
        let (client, source) = batch.feed == "snapshots" ? (snapshotFiles, snapshotSource ?? self.source) : (files, self.source)
        guard let client else {
            return .retry(reason: "batch \(batch.batchID) is a file upload and no feed.file_ingest is configured", after: nil)
        }
        switch await client.upload(batchID: batch.batchID, source: source, csv: batch.body, fileName: "\(batch.batchID).csv") {
        case .accepted(let status, let body): return .delivered(response: "HTTP \(status) \(body)")
        case .retry(let reason, let after): return .retry(reason: reason, after: after)
        case .rejected(let status, let body): return .rejected(reason: "the file ingest refused the upload with HTTP \(status)", response: body)
        }
    }
}
