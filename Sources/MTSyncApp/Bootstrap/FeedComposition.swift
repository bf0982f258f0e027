import Foundation
import Logging
import MTSyncCore
import MTSyncEngine
import MTSyncIngest
import MTSyncStore

/// Builds the daily feed's pieces from `feed:` (docs/ingest.md, "The daily feed"): the builder's settings, the
/// transport (SQS queue and file ingest) and the sender.
extension IngestSinks {
    public static func feedSettings(for configuration: MTSyncConfiguration, feed: FeedConfiguration) throws -> DailyFeedSettings {
        var settings = feed.settings
        // The tier snapshots decide which accounts are real at a day's close with each server's own account policy.
        settings.snapshots = try feed.snapshots.map { snapshots in
            var policies: [String: AccountPolicy] = [:]
            for server in configuration.servers { policies[server.id.rawValue] = AccountPolicy(settings: try server.normalizerSettings()) }
            return TierSnapshotSettings(envelope: DailyFeedEnvelope(triggerID: snapshots.triggerID, source: snapshots.source), policies: policies)
        }
        return settings
    }

    /// The tier snapshots' builder, when `feed.snapshots` is configured.
    public static func snapshotBuilder(for configuration: MTSyncConfiguration, feed: FeedConfiguration, on connection: PostgresConnection) throws -> TierSnapshotBuilder? {
        let settings = try feedSettings(for: configuration, feed: feed)
        return settings.snapshots.map { TierSnapshotBuilder(settings: settings, snapshots: $0, connection: connection) }
    }

    /// The queue (its attributes read first: fails when it cannot be reached) and the file ingest.
    public func feedTransport(for feed: FeedConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> DailyFeedDelivery {
        var environment = environment
        if let region = feed.sqs.region { environment["AWS_REGION"] = region }
        if let profile = feed.sqs.profile { environment["AWS_PROFILE"] = profile }
        let settings = try AWSSettings.resolve(
            service: "sqs", environment: environment,
            files: .locate(environment: environment, homeDirectory: environment["HOME"] ?? NSHomeDirectory()),
            endpoint: feed.sqs.endpoint)
        let files = try feed.fileIngest.map { destination in
            try FileIngestClient(
                configuration: .init(url: destination.url, triggerID: feed.triggerID, apiKey: try FileIngestKey(destination.apiKey.reveal()), requestTimeout: destination.timeout),
                httpClient: httpClient)
        }
        var delivery = try await DailyFeedDelivery.connect(sqs: SQSClient(settings: settings, httpClient: httpClient), queueURL: feed.sqs.queueURL, files: files, source: feed.settings.envelope.source)
        if let snapshots = feed.snapshots, let destination = feed.fileIngest {
            delivery.snapshotFiles = try FileIngestClient(
                configuration: .init(url: destination.url, triggerID: snapshots.triggerID, apiKey: try FileIngestKey(destination.apiKey.reveal()), requestTimeout: destination.timeout),
                httpClient: httpClient)
            delivery.snapshotSource = snapshots.source
        }
        guard feed.settings.maximumMessageBytes <= delivery.maximumMessageBytes else {
            throw FeedMisconfigured(message: "feed.max_message_bytes is \(feed.settings.maximumMessageBytes) but the queue takes at most \(delivery.maximumMessageBytes) bytes; lower feed.max_message_bytes")
        }
        return delivery
    }

    public func feedSender(for feed: FeedConfiguration, on connection: PostgresConnection, logger: Logger) async throws -> DailyFeedSender {
        DailyFeedSender(connection: connection, transport: try await feedTransport(for: feed), claimFor: feed.claimFor, logger: logger)
    }
}

public struct FeedMisconfigured: Error, CustomStringConvertible {
    public var message: String

    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// `feed:` is missing but a command needs it.
public struct FeedNotConfigured: Error, CustomStringConvertible {
    public init() {}

    public var description: String {
        "the configuration has no `feed:` section: add `feed: {trigger_id: …, sqs: {queue_url: …}}` (docs/configuration.md, docs/ingest.md \"The daily feed\")"
    }
}

/// What a one-shot run sent of a range's trading days.
public struct FeedRangeReport: Encodable, Sendable {
    public var fromDay: String
    public var toDay: String
    public var rows: Int
    public var files: Int
    public var sent: DailyFeedSender.Report
    /// Batches still waiting when the run ended (the next run sends them).
    public var pendingAfter: Int
    enum CodingKeys: String, CodingKey { case fromDay = "from_day", toDay = "to_day", rows, files, sent, pendingAfter = "pending_after" }
}

extension SyncBootstrap {
    /// The first and last trading day (the feed's day rule) of a range in `server`'s time: the days of its first and
    /// last instants in UTC.
    public static func tradingDays(of range: Range<Int64>, server: ServerConfiguration, rule: TradingDayRule) -> (from: String, to: String) {
        let first = server.zone.utcMilliseconds(fromServerMilliseconds: range.lowerBound).utcMilliseconds
        let last = server.zone.utcMilliseconds(fromServerMilliseconds: range.upperBound - 1).utcMilliseconds
        return (rule.day(ofUTCMilliseconds: first), rule.day(ofUTCMilliseconds: last))
    }

    /// A backfilled range's trading days through the file ingest: every customer's whole row, once per content (a
    /// rerun uploads nothing new); then what is queued is sent, retrying transient refusals for a while.
    public func sendFeed(of range: Range<Int64>, server: ServerConfiguration, feed: FeedConfiguration, sinks: IngestSinks) async throws -> FeedRangeReport {
        let connection = try await connect()
        let days = Self.tradingDays(of: range, server: server, rule: feed.settings.day)
        let builder = DailyFeedBuilder(settings: try IngestSinks.feedSettings(for: configuration, feed: feed), connection: connection)
        let built = try await builder.queueRange(fromDay: days.from, toDay: days.to, servers: nil, origin: "backfill:\(server.id.rawValue):\(days.from)..\(days.to)")
        let sender = try await sinks.feedSender(for: feed, on: connection, logger: Self.quietLogger)
        let (sent, pending) = try await sender.sendUntilSettled()
        return FeedRangeReport(fromDay: days.from, toDay: days.to, rows: built.rowsQueued, files: built.filesQueued, sent: sent, pendingAfter: pending)
    }

    /// A backfilled range's tier snapshots through the file ingest, every customer with an account on the server;
    /// then what is queued is sent once.
    public func sendSnapshots(of range: Range<Int64>, server: ServerConfiguration, feed: FeedConfiguration, sinks: IngestSinks) async throws -> TierSnapshotBuilder.Report {
        let connection = try await connect()
        let days = Self.tradingDays(of: range, server: server, rule: feed.settings.day)
        guard let builder = try IngestSinks.snapshotBuilder(for: configuration, feed: feed, on: connection) else { throw FeedMisconfigured(message: "--snapshots needs feed.snapshots") }
        let report = try await builder.queueRange(fromDay: days.from, toDay: days.to, servers: [server.id.rawValue], origin: "backfill-snapshots:\(server.id.rawValue)")
        _ = try await sinks.feedSender(for: feed, on: connection, logger: Self.quietLogger).sendDue()
        return report
    }

    /// A one-shot command's sender logs warnings and errors only: its result is printed.
    static var quietLogger: Logger {
        var logger = Logger(label: "mtsync")
        logger.logLevel = .warning
        return logger
    }
}
