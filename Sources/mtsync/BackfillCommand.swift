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
        var records: Int
        var inserted: Int
        var updated: Int
        var quarantined: Int
        var excluded: Int
        var pending: Int
        var dailyRecords: Int?
        var feed: FeedRangeReport?
        var snapshots: TierSnapshotBuilder.Report?

        init(server: String, _ report: BackfillReport) {
            self.server = server
            (jobID, chunks, chunksAlreadyDone) = (report.jobID, report.chunks, report.chunksAlreadyDone)
            (records, inserted, updated, quarantined) = (report.records, report.inserted, report.updated, report.quarantined)
            (excluded, pending, dailyRecords) = (report.excluded, report.pending, report.dailyRecords)
        }
    }

    func run() async throws {
        var summary: Summary
        let sinks = IngestSinks()
        do {
            let configuration = try config.load()
            try checkFeedOptions(configuration)
            let start = try ServerTimeArgument.milliseconds(from), end = try ServerTimeArgument.milliseconds(to)
            guard start < end else { throw ValidationError("--from must be before --to") }
            guard let chunkLength = Self.chunkMilliseconds(chunk) else { throw ValidationError("--chunk must be like 1h, 6h, 1d or 7d") }
            let engine = SyncBootstrap(configuration: configuration)
            let (server, sync) = try await engine.bridgeSync(
                named: self.server, otherwise: "backfill needs a server with a bridge (a drop folder is backfilled by publishing files)")
            let report = try await sync.backfill(fromMilliseconds: start, toMilliseconds: end, chunkMilliseconds: chunkLength, owner: configuration.instanceID)
            summary = Summary(server: server.id.rawValue, report)
            if feed, let feed = configuration.feed { summary.feed = try await engine.sendFeed(of: start..<end, server: server, feed: feed, sinks: sinks) }
            if snapshots, let feed = configuration.feed { summary.snapshots = try await engine.sendSnapshots(of: start..<end, server: server, feed: feed, sinks: sinks) }
            await sinks.shutdown()
        } catch {
            await sinks.shutdown()
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json { JSONOutput.print(summary) } else { printText(summary) }
        if let feed = summary.feed, feed.sent.parked > 0 || feed.pendingAfter > 0 { throw ExitCode(75) }
    }

    /// `--feed` and `--snapshots` send through the file ingest, and `--snapshots` needs its trigger id.
    func checkFeedOptions(_ configuration: MTSyncConfiguration) throws {
        if feed || snapshots, configuration.feed?.fileIngest == nil {
            throw configuration.feed == nil ? FeedNotConfigured() as any Error : FeedMisconfigured(message: "--feed and --snapshots send through the file ingest: configure feed.file_ingest (url, api_key_env or api_key_file)")
        }
        if snapshots, configuration.feed?.snapshots == nil {
            throw FeedMisconfigured(message: "--snapshots needs feed.snapshots (its trigger_id) in the configuration")
        }
    }

    func printText(_ summary: Summary) {
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

    static func chunkMilliseconds(_ text: String) -> Int64? {
        guard let unit = text.last, let count = Int64(text.dropLast()), count > 0 else { return nil }
        switch unit {
        case "h": return count * 3_600_000
        case "d": return count * 86_400_000
        default: return nil
        }
    }
}
