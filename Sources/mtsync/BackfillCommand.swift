import ArgumentParser
import Foundation
import Logging
import MTSyncBridge
import MTSyncApp
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import ServiceLifecycle

/// `mtsync backfill`: a bounded range, chunked and resumable, that never moves the live cursor.
struct BackfillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill",
        abstract: "Store a bounded, half-open range [--from, --to) of a server's history, chunk by chunk; resumable; the live cursor does not move.",
        discussion: "Run it again with the same range after a crash or kill: it resumes at the first chunk not done. Exit status 0 when the whole range is stored; 75 when a chunk failed (run it again)."
    )

    @OptionGroup var config: ConfigOptions
    @Option(help: "The server.") var server: String
    @Option(help: "Range start, server time: YYYY-MM-DD or YYYY-MM-DDTHH:MM.") var from: String
    @Option(help: "Range end (exclusive), same forms.") var to: String
    @Option(help: "Chunk length: 1h, 6h, 1d (default), 7d.") var chunk: String = "1d"
    @Flag(help: "Then send the range's trading days to the loyalty platform's file ingest: every customer's whole row, once per content (a rerun uploads nothing new).") var feed = false
    @Flag(help: "Then send the range's tier snapshots (feed.snapshots) through the file ingest, every customer with an account on the server, from the range's first trading day to its last closed one.") var snapshots = false
    @OptionGroup var output: OutputOptions

    struct Summary: Encodable {
        var server: String
        var jobID: Int64
        var chunks: Int
        var chunksAlreadyDone: Int
        var records = 0
        var inserted = 0
        var updated = 0
        var quarantined = 0
        /// Facts stored but not sent (their account's decision excludes them), and records held for their account.
        var excluded = 0
        var pending = 0
        var dailyRecords: Int?
        var feed: FeedSummary?
        var snapshots: TierSnapshotBuilder.Report?
    }

    struct FeedSummary: Encodable {
        var fromDay: String
        var toDay: String
        var rows: Int
        var files: Int
        var sent: DailyFeedSender.Report
        /// Batches still waiting when the run ended (the next run sends them).
        var pendingAfter: Int
        enum CodingKeys: String, CodingKey { case fromDay = "from_day", toDay = "to_day", rows, files, sent, pendingAfter = "pending_after" }
    }

    func run() async throws {
        var summary: Summary
        let sinks = IngestSinks()
        do {
            let configuration = try config.load()
            if feed || snapshots, configuration.feed?.fileIngest == nil {
                throw configuration.feed == nil ? FeedNotConfigured() as any Error : FeedMisconfigured(message: "--feed and --snapshots send through the file ingest: configure feed.file_ingest (url, api_key_env or api_key_file)")
            }
            if snapshots, configuration.feed?.snapshots == nil {
                throw FeedMisconfigured(message: "--snapshots needs feed.snapshots (its trigger_id) in the configuration")
            }
            let start = try BridgeCheckCommand.serverMilliseconds(from), end = try BridgeCheckCommand.serverMilliseconds(to)
            guard start < end else { throw ValidationError("--from must be before --to") }
            guard let chunkLength = Self.chunkMilliseconds(chunk) else { throw ValidationError("--chunk must be like 1h, 6h, 1d or 7d") }
            let (server, sync) = try await SyncBootstrap(configuration: configuration).bridgeSync(
                named: self.server, otherwise: "backfill needs a server with a bridge (a drop folder is backfilled by publishing files)")
            let connection = sync.connection
            let job = try await BackfillJob.open(
                serverID: server.id, fromMilliseconds: start, toMilliseconds: end, chunkMilliseconds: chunkLength, owner: configuration.instanceID, on: connection)
            summary = Summary(server: server.id.rawValue, jobID: job.jobID, chunks: job.pending.count + job.done, chunksAlreadyDone: job.done)
            do {
                // The accounts first (when due), so the range's facts are decided from them rather than held.
                _ = try await sync.refreshReferenceData()
                for chunk in job.pending {
                    let report = try await sync.pull(fromMilliseconds: chunk.fromMilliseconds, toMilliseconds: chunk.toMilliseconds, movingCursor: false, backfillJobID: job.jobID)
                    try await job.finish(chunk, records: report.records, on: connection)
                    summary.records += report.records
                    summary.inserted += report.outcome.inserted
                    summary.updated += report.outcome.updated
                    summary.quarantined += report.outcome.quarantined
                    summary.excluded += report.outcome.excluded
                }
                // The range's end-of-day records too, when the bridge serves them: the tier snapshots' balances.
                summary.dailyRecords = try await sync.readDaily(fromMilliseconds: start, toMilliseconds: end)?.records
                let caughtUp = try await sync.catchUpDecisions()
                summary.inserted += caughtUp.outcome.inserted
                summary.pending = try await PendingRecords.summary(server: server.id.rawValue, on: connection).records
                try await job.complete(on: connection)
            } catch {
                try? await job.complete(error: String(describing: error), on: connection)
                throw error
            }
            if feed, let feedConfiguration = configuration.feed {
                summary.feed = try await sendFeed(configuration: configuration, feed: feedConfiguration, server: server, range: start..<end, sinks: sinks)
            }
            if snapshots, let feedConfiguration = configuration.feed {
                summary.snapshots = try await sendSnapshots(configuration: configuration, feed: feedConfiguration, server: server, range: start..<end, sinks: sinks)
            }
            await sinks.shutdown()
        } catch {
            await sinks.shutdown()
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json {
            JSONOutput.print(summary)
        } else {
            print("backfill job \(summary.jobID) of \(summary.server): \(summary.chunks) chunk(s), \(summary.chunksAlreadyDone) done before this run")
            print("  \(summary.records) record(s): \(summary.inserted) new, \(summary.updated) updated, \(summary.quarantined) quarantined, \(summary.excluded) excluded (stored, not sent)")
            if summary.pending > 0 {
                print("  \(summary.pending) record(s) of the server wait for their account (the bridge has not sent it); they are decided when it arrives (mtsync status)")
            }
            if let feed = summary.feed {
                print("  feed: trading days \(feed.fromDay) to \(feed.toDay): \(feed.rows) row(s) in \(feed.files) new file(s); \(feed.sent.sent) upload(s) sent, \(feed.pendingAfter) waiting")
                if let error = feed.sent.lastError { print("  feed: last error: \(error)") }
            }
            if let snapshots = summary.snapshots {
                print("  snapshots: \(snapshots.customers) customer(s) through \(snapshots.closedThrough ?? "-"): \(snapshots.rowsQueued) row(s) in \(snapshots.filesQueued) file(s), \(snapshots.customersHeld) customer(s) held")
            }
        }
        if let feed = summary.feed, feed.sent.parked > 0 || feed.pendingAfter > 0 { throw ExitCode(75) }
    }

    /// The range's tier snapshots through the file ingest, then what is queued is sent.
    func sendSnapshots(configuration: MTSyncConfiguration, feed: FeedConfiguration, server: ServerConfiguration, range: Range<Int64>, sinks: IngestSinks) async throws -> TierSnapshotBuilder.Report {
        let connection = try await SyncBootstrap(configuration: configuration).connect()
        let first = server.zone.utcMilliseconds(fromServerMilliseconds: range.lowerBound).utcMilliseconds
        let last = server.zone.utcMilliseconds(fromServerMilliseconds: range.upperBound - 1).utcMilliseconds
        guard let builder = try IngestSinks.snapshotBuilder(for: configuration, feed: feed, on: connection) else { throw FeedMisconfigured(message: "--snapshots needs feed.snapshots") }
        let report = try await builder.queueRange(
            fromDay: Self.tradingDay(ofUTCMilliseconds: first, rule: feed.day), toDay: Self.tradingDay(ofUTCMilliseconds: last, rule: feed.day),
            servers: [server.id.rawValue], origin: "backfill-snapshots:\(server.id.rawValue)")
        var logger = Logger(label: "mtsync")
        logger.logLevel = .warning
        _ = try await sinks.feedSender(for: feed, on: connection, logger: logger).sendDue()
        return report
    }

    /// The range's trading days through the file ingest. The range is in server time; its first and last instants
    /// in UTC give the first and last trading day in the feed's zone.
    func sendFeed(configuration: MTSyncConfiguration, feed: FeedConfiguration, server: ServerConfiguration, range: Range<Int64>, sinks: IngestSinks) async throws -> FeedSummary {
        let engine = SyncBootstrap(configuration: configuration)
        let connection = try await engine.connect()
        let first = server.zone.utcMilliseconds(fromServerMilliseconds: range.lowerBound).utcMilliseconds
        let last = server.zone.utcMilliseconds(fromServerMilliseconds: range.upperBound - 1).utcMilliseconds
        let fromDay = Self.tradingDay(ofUTCMilliseconds: first, rule: feed.day), toDay = Self.tradingDay(ofUTCMilliseconds: last, rule: feed.day)
        var logger = Logger(label: "mtsync")
        logger.logLevel = .warning
        let builder = DailyFeedBuilder(settings: try IngestSinks.feedSettings(for: configuration, feed: feed), connection: connection)
        let built = try await builder.queueRange(fromDay: fromDay, toDay: toDay, servers: nil, origin: "backfill:\(server.id.rawValue):\(fromDay)..\(toDay)")
        let sender = try await sinks.feedSender(for: feed, on: connection, logger: logger)
        // A cron job: transient refusals (429, 5xx, timeouts) are retried for a while with the same batches, then the
        // run exits 75 and the next run sends what is left.
        var sent = DailyFeedSender.Report()
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            let round = try await sender.sendDue()
            sent.sent += round.sent
            sent.rowsSent += round.rowsSent
            sent.retried += round.retried
            sent.parked += round.parked
            sent.lastError = round.lastError
            let status = try await DailyFeedStore.status(on: connection)
            if status.batchesPending == 0 || round.parked > 0 || ContinuousClock.now > deadline { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        let pending = try await DailyFeedStore.status(on: connection).batchesPending
        return FeedSummary(fromDay: fromDay, toDay: toDay, rows: built.rowsQueued, files: built.filesQueued, sent: sent, pendingAfter: pending)
    }

    static func tradingDay(ofUTCMilliseconds milliseconds: Int64, rule: TradingDayRule) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: rule.zone) ?? TimeZone(identifier: "UTC")!
        let shifted = Date(timeIntervalSince1970: Double(milliseconds) / 1000).addingTimeInterval(Double(rule.shiftSeconds))
        let parts = calendar.dateComponents([.year, .month, .day], from: shifted)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.year!)-\(two(parts.month!))-\(two(parts.day!))"
    }

    static func chunkMilliseconds(_ text: String) -> Int64? {
        guard let unit = text.last, let count = Int64(text.dropLast()), count > 0 else { return nil }
        switch unit {
        case "h": return count * 3_600_000
        case "d": return count * 86_400_000
        default: return nil
        }
    }
}
