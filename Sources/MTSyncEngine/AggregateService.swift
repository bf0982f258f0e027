import Logging
import MTSyncStore
import ServiceLifecycle

/// The daemon's aggregator: every `every`, emits the hourly aggregates that are due (docs/ingest.md,
/// "aggregate.hourly"). Several instances may run it at once: each takes marked hours with SKIP LOCKED.
public struct AggregateService: Service {
    public let connection: PostgresConnection
    public let grace: Duration
    public let every: Duration
    public let logger: Logger

    public init(connection: PostgresConnection, grace: Duration, every: Duration, logger: Logger) {
        self.connection = connection
        self.grace = grace
        self.every = every
        self.logger = logger
    }

    public func run() async throws {
        await PeriodicRounds.run(every: every) { error in
            // The marks stay: the next round takes the same hours again.
            logger.error("aggregating failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(every)"])
        } _: {
            let emitted = try await HourlyAggregates.emitDue(grace: grace, on: connection)
            if emitted > 0 { logger.info("aggregated", metadata: ["events": "\(emitted)"]) }
        }
    }
}
