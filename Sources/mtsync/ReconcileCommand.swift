import ArgumentParser
import Foundation
import Logging
import MTSyncBridge
import MTSyncApp
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import ServiceLifecycle

/// `mtsync reconcile`: digests from the bridge against the store, bucket by bucket; `--repair` fixes them.
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Compare the bridge's per-bucket digests with the store over a range; with --repair, re-pull differing buckets.",
        discussion: "Exit status 0 when every bucket matches (or was repaired), 65 when buckets differ and --repair was not given."
    )

    @OptionGroup var config: ConfigOptions
    @Option(help: "The server.") var server: String
    @Option(help: "Range start, server time: YYYY-MM-DD or YYYY-MM-DDTHH:MM (default: 3 days before --to).") var from: String?
    @Option(help: "Range end (exclusive), same forms (default: the start of the current hour, server time).") var to: String?
    @Flag(help: "Re-pull differing buckets: insert missing deals, update changed ones, mark vanished ones deleted.") var repair = false
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let report: ServerSync.ReconcileReport
        do {
            let configuration = try config.load()
            let (server, sync) = try await SyncBootstrap(configuration: configuration).bridgeSync(
                named: self.server, otherwise: "reconcile needs a server with a bridge (a drop folder has no digests)")
            let start: Int64, end: Int64
            if from == nil || to == nil {
                let trailing = try await sync.trailingRange(window: .seconds(3 * 86_400))
                end = try to.map(ServerTimeArgument.milliseconds) ?? trailing.toMilliseconds
                start = try from.map(ServerTimeArgument.milliseconds) ?? end - 3 * 86_400_000
            } else {
                start = try ServerTimeArgument.milliseconds(from!)
                end = try ServerTimeArgument.milliseconds(to!)
            }
            guard start < end else { throw ValidationError("--from must be before --to") }
            guard let recorded = try await sync.recordedReconcile(fromMilliseconds: start, toMilliseconds: end, repair: repair, owner: configuration.instanceID) else {
                throw ReconcileAlreadyRunning(server: server.id.rawValue)
            }
            report = recorded
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json {
            JSONOutput.print(report)
        } else {
            print("\(report.buckets) bucket(s) compared, \(report.differing.count) differ")
            for bucket in report.differing.prefix(10) {
                print("  \(ServerTimeText.iso8601(milliseconds: bucket.fromMilliseconds)) – \(ServerTimeText.iso8601(milliseconds: bucket.toMilliseconds)): bridge \(bucket.bridgeCount) record(s) / \(bucket.bridgeChecksum), store \(bucket.storeCount) / \(bucket.storeChecksum)")
            }
            if report.differing.count > 10 { print("  … and \(report.differing.count - 10) more (--json lists them all)") }
            if repair {
                print("repaired: \(report.repairedRecords) record(s) re-read, \(report.inserted) inserted, \(report.updated) updated, \(report.deleted) marked deleted")
                if report.dailyRecordsRead > 0 { print("end-of-day records read again: \(report.dailyRecordsRead), \(report.dailyRecordsChanged) changed") }
            }
        }
        if !repair && !report.differing.isEmpty { throw ExitCode(CommandFailure.Status.dataError.rawValue) }
    }
}

/// Another reconcile of the same server and range is running (the daemon's trailing one, or another cron run).
struct ReconcileAlreadyRunning: Error, CustomStringConvertible {
    let server: String
    var description: String { "a reconcile of \(server) over this range is already running (see `mtsync status`): try again when it is done" }
}
