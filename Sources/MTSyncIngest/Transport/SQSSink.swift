
/// The relay's SQS destination: `SendMessageBatch` calls of up to 10 messages and the queue's
/// `MaximumMessageSize`, one call at a time in message order (FIFO groups keep their order across calls), each
/// entry's fate read from the answer — a 200 is not success for the entries in `Failed[]`.
public struct SQSSink: IngestSink {
    public let client: SQSClient
    public let queueURL: String
    public let planner: SQSBatchPlanner
    public let grouping: MessageGrouping

    public var maximumMessageBytes: Int { planner.maximumBytes }

    public init(client: SQSClient, queueURL: String, maximumMessageBytes: Int, isFIFO: Bool, groupBy: MessageGrouping) {
        self.client = client
        self.queueURL = queueURL
        self.planner = SQSBatchPlanner(maximumBytes: maximumMessageBytes, isFIFO: isFIFO)
        // A standard queue keeps no order, so grouping would only make more, smaller messages.
        self.grouping = isFIFO ? groupBy : .none
    }

    /// Reads the queue's `MaximumMessageSize` and whether it is FIFO (`GetQueueAttributes`), so messages are packed
    /// for this queue and not for a guess. Fails when the queue cannot be reached or read: the relay should not
    /// start sending into a misconfigured queue.
    public static func connect(client: SQSClient, queueURL: String, groupBy: MessageGrouping = .serverLogin) async throws(SQSError) -> SQSSink {
        let answer = try await client.call(
            SQSProtocol.GetQueueAttributes.self,
            .init(queueURL: queueURL, attributeNames: ["MaximumMessageSize", "FifoQueue"]))
        let size = answer.Attributes["MaximumMessageSize"].flatMap(Int.init) ?? 262_144
        let fifo = answer.Attributes["FifoQueue"] == "true" || queueURL.hasSuffix(".fifo")
        return SQSSink(client: client, queueURL: queueURL, maximumMessageBytes: min(size, 1 << 20), isFIFO: fifo, groupBy: groupBy)
    }

    public func deliver(_ messages: [IngestMessage]) async -> [DeliveryOutcome] {
        let plan = planner.plan(messages)
        var outcomes = [DeliveryOutcome?](repeating: nil, count: messages.count)
        for (index, outcome) in plan.rejected { outcomes[index] = outcome }
        var stopReason: String?
        for batch in plan.batches {
            if let stopReason {
                // The queue is throttling or unreachable: the rest waits for the relay's backoff instead of
                // hammering it call after call.
                for index in batch.messageIndices { outcomes[index] = .retry(reason: stopReason, after: nil) }
                continue
            }
            let sent = await send(batch)
            for (index, outcome) in sent.outcomes { outcomes[index] = outcome }
            if let stop = sent.stopsTheRound { stopReason = stop }
        }
        return outcomes.map { $0 ?? .retry(reason: "not sent", after: nil) }
    }

    /// What one call did: each message's outcome, and whether the queue is throttling or unreachable (the reason),
    /// which stops the round so the rest waits for the relay's backoff.
    struct Sent {
        var outcomes: [(index: Int, outcome: DeliveryOutcome)]
        var stopsTheRound: String?
    }

    /// One call; a call SQS refuses as a whole for a reason in the messages is split into single-message calls,
    /// so one bad message is dead-lettered alone and the others go.
    func send(_ batch: SQSBatchPlanner.Batch) async -> Sent {
        do {
            let answer = try await client.call(SQSProtocol.SendMessageBatch.self, .init(queueURL: queueURL, entries: batch.entries))
            return Sent(outcomes: SQSBatchPlanner.outcomes(of: batch, response: answer), stopsTheRound: nil)
        } catch {
            switch error.kind {
            case .sender where batch.entries.count > 1:
                var split = Sent(outcomes: [], stopsTheRound: nil)
                for (index, entry) in zip(batch.messageIndices, batch.entries) {
                    let single = await send(SQSBatchPlanner.Batch(messageIndices: [index], entries: [entry], byteCount: entry.MessageBody.utf8.count))
                    split.outcomes += single.outcomes
                    split.stopsTheRound = single.stopsTheRound ?? split.stopsTheRound
                }
                return split
            case .sender:
                return Sent(outcomes: batch.messageIndices.map { ($0, .rejected(reason: "SQS refused the message: \(error)", response: error.message)) }, stopsTheRound: nil)
            case .throttled:
                let reason = "throttled: " + error.description
                return Sent(outcomes: batch.messageIndices.map { ($0, .retry(reason: reason, after: nil)) }, stopsTheRound: reason)
            case .transport, .server, .configuration:
                let reason = "SQS unavailable: " + error.description
                return Sent(outcomes: batch.messageIndices.map { ($0, .retry(reason: reason, after: nil)) }, stopsTheRound: reason)
            }
        }
    }
}
