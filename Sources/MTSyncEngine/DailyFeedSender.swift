import Logging
import MTSyncCore
import MTSyncIngest
import MTSyncStore
import ServiceLifecycle

/// Sends the daily feed's queued batches, strictly in the order they were queued, each until the platform
/// acknowledges it (docs/ingest.md, "The daily feed"). A batch is claimed for `claimFor` before it is sent and
/// marked sent after: a crash in between sends the same stored bytes again after the claim lapses — the same
/// `batch_id`, never a different one for the same rows.
public struct DailyFeedSender: Sendable {
    public let connection: PostgresConnection
    public let transport: any DailyFeedTransport
    public let claimFor: Duration
    public let maximumRetryDelay: Duration
    public let logger: Logger

    public init(connection: PostgresConnection, transport: any DailyFeedTransport, claimFor: Duration = .seconds(120), maximumRetryDelay: Duration = .seconds(300), logger: Logger) {
        self.connection = connection
        self.transport = transport
        self.claimFor = claimFor
        self.maximumRetryDelay = maximumRetryDelay
        self.logger = logger
    }

    public struct Report: Sendable, Hashable, Encodable {
        public var sent = 0
        public var rowsSent = 0
        public var retried = 0
        public var parked = 0
        /// Why the last attempt failed, when one did.
        public var lastError: String?

        public init() {}

        enum CodingKeys: String, CodingKey { case sent, rowsSent = "rows_sent", retried, parked, lastError = "last_error" }
    }

    /// Sends due batches until none is due or one fails (the rest wait behind it, in order).
    public func sendDue() async throws -> Report {
        var report = Report()
        while !Task.isCancelled, let batch = try await DailyFeedStore.claimNext(claimFor: claimFor, on: connection) {
            guard let kind = DailyFeedBatch.Transport(rawValue: batch.transport) else {
                try await DailyFeedStore.park(batch.batchID, reason: "unknown transport \(batch.transport)", response: nil, on: connection)
                report.parked += 1
                continue
            }
            if kind == .file, !transport.acceptsFiles {
                let reason = "batch \(batch.batchID) is a file upload and no feed.file_ingest is configured; configure it to send the batch"
                try await DailyFeedStore.markFailed(batch.batchID, error: reason, retryIn: maximumRetryDelay, on: connection)
                report.retried += 1
                report.lastError = reason
                break
            }
            let outcome = await transport.send(DailyFeedOutgoing(batchID: batch.batchID, feed: batch.feed, transport: kind, rows: batch.rows, body: batch.body))
            Self.count(outcome, kind: kind, rows: batch.rows)
            switch outcome {
            case .delivered(let response):
                try await DailyFeedStore.markSent(batch.batchID, response: response, on: connection)
                report.sent += 1
                report.rowsSent += batch.rows
                logger.info("feed batch sent", metadata: ["batch_id": "\(batch.batchID)", "transport": "\(kind.rawValue)", "rows": "\(batch.rows)"])
            case .retry(let reason, let after):
                let delay = after ?? backoff(attempts: batch.attempts)
                try await DailyFeedStore.markFailed(batch.batchID, error: reason, retryIn: delay, on: connection)
                report.retried += 1
                report.lastError = reason
                logger.warning("feed batch not sent; retrying", metadata: ["batch_id": "\(batch.batchID)", "reason": "\(reason)", "retry_in": "\(delay)"])
                return report
            case .rejected(let reason, let response):
                try await DailyFeedStore.park(batch.batchID, reason: reason, response: response, on: connection)
                report.parked += 1
                report.lastError = reason
                logger.error("feed batch refused; parked (mtsync feed retry sends it again)", metadata: ["batch_id": "\(batch.batchID)", "reason": "\(reason)"])
            }
        }
        return report
    }

    /// Rows count as sent when the platform acknowledged them (a resend after a crash counts them again, as it
    /// sends them again); every file upload counts by its outcome.
    static func count(_ outcome: DailyFeedSendOutcome, kind: DailyFeedBatch.Transport, rows: Int) {
        let transport = kind == .file ? "file_ingest" : "sqs"
        if case .delivered = outcome { SyncMetric.feedRowsSent.increment(by: rows, transport) }
        guard kind == .file else { return }
        switch outcome {
        case .delivered: SyncMetric.feedFileUploads.increment("accepted")
        case .retry: SyncMetric.feedFileUploads.increment("retry")
        case .rejected: SyncMetric.feedFileUploads.increment("rejected")
        }
    }

    /// 1 s, 2 s, 4 s … up to `maximumRetryDelay`.
    func backoff(attempts: Int) -> Duration {
        ExponentialBackoff(first: .seconds(1), maximum: maximumRetryDelay, maximumDoublings: 20).ceiling(afterFailure: attempts)
    }
}

/// The daemon's feed: every `every`, decide the daily rows and the tier snapshots that changed and send what is
/// queued.
public struct DailyFeedService: Service {
    public let builder: DailyFeedBuilder
    /// Nil when `feed.snapshots` is not configured.
    public let snapshots: TierSnapshotBuilder?
    public let sender: DailyFeedSender
    public let every: Duration
    public let logger: Logger

    public init(builder: DailyFeedBuilder, snapshots: TierSnapshotBuilder? = nil, sender: DailyFeedSender, every: Duration, logger: Logger) {
        self.builder = builder
        self.snapshots = snapshots
        self.sender = sender
        self.every = every
        self.logger = logger
    }

    /// What one round decided and sent.
    public struct Round: Sendable, Encodable {
        public var built: DailyFeedBuilder.Report
        public var snapshots: TierSnapshotBuilder.Report?
        public var sent: DailyFeedSender.Report
    }

    /// One round: the daily rows that changed, then the tier snapshots (after the daily rows: their settled marks
    /// are what marks the snapshots a change altered), then what is queued is sent.
    public func round() async throws -> Round {
        let built = try await builder.build()
        if built.rowsQueued > 0 || built.loginDaysHeld > 0 || built.customerDaysHeld > 0 {
            logger.info("feed rows decided", metadata: [
                "rows_queued": "\(built.rowsQueued)", "batches": "\(built.batchesQueued)", "unchanged": "\(built.rowsUnchanged)",
                "login_days_held": "\(built.loginDaysHeld)", "customer_days_held": "\(built.customerDaysHeld)",
            ])
        }
        var decided: TierSnapshotBuilder.Report?
        if let snapshots {
            decided = try await snapshots.build()
            if let decided, decided.rowsQueued > 0 || decided.customersHeld > 0 {
                logger.info("snapshots decided", metadata: [
                    "rows_queued": "\(decided.rowsQueued)", "batches": "\(decided.batchesQueued)", "unchanged": "\(decided.rowsUnchanged)",
                    "customers_held": "\(decided.customersHeld)", "closed_through": "\(decided.closedThrough ?? "-")",
                ])
            }
        }
        return Round(built: built, snapshots: decided, sent: try await sender.sendDue())
    }

    public func run() async throws {
        await PeriodicRounds.run(every: every) { error in
            // Marks and queued batches stay: the next round takes them again.
            logger.error("feed round failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(every)"])
        } _: {
            _ = try await round()
        }
    }
}

extension DailyFeedSender {
    /// For a one-shot run (a cron job): sends what is due again and again until nothing is pending, a batch is
    /// parked, or `patience` has passed; transient refusals (429, 5xx, timeouts) are retried meanwhile with the same
    /// batches, and what is left waits for the next run. Returns what was sent and how many batches still wait.
    public func sendUntilSettled(patience: Duration = .seconds(60)) async throws -> (sent: Report, pendingAfter: Int) {
        var sent = Report()
        let deadline = ContinuousClock.now + patience
        while true {
            let round = try await sendDue()
            sent.sent += round.sent
            sent.rowsSent += round.rowsSent
            sent.retried += round.retried
            sent.parked += round.parked
            sent.lastError = round.lastError
            let status = try await DailyFeedStore.status(on: connection)
            if status.batchesPending == 0 || round.parked > 0 || ContinuousClock.now > deadline { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        return (sent, try await DailyFeedStore.status(on: connection).batchesPending)
    }
}
