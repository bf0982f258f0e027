import ArgumentParser
import Foundation
import Logging
import MTSyncBridge
import MTSyncApp
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import ServiceLifecycle

/// `mtsync sync`: one incremental pull of every configured server (or one), then exit — for cron, for a first
/// look, and for the crash tests. Takes each server's lease like the daemon, so it never races a running daemon.
struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Pull every configured server (or --server) once: new deals since the cursor (minus the lookback), then changes.",
        discussion: "Exit status 0 when every server synced or is held by another instance; 75 when a server failed (retry later); 78 for a bad configuration."
    )

    @OptionGroup var config: ConfigOptions
    @Option(help: "Only this server.") var server: String?
    @Option(help: "Lease owner name (default: the configuration's instance id).") var owner: String?
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let configuration: MTSyncConfiguration
        do {
            configuration = try config.load()
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        let summaries: [SyncSummary]
        do {
            let outcomes = try await SyncBootstrap(configuration: configuration).syncOnce(serverNamed: server, owner: owner ?? configuration.instanceID)
            summaries = outcomes.map { server, outcome in
                switch outcome {
                case .synced(let report): SyncSummary(server: server.rawValue, status: "synced", report: report)
                case .heldByAnother(let holder): SyncSummary(server: server.rawValue, status: "held by another instance", heldBy: holder)
                case .failed(let error): SyncSummary(server: server.rawValue, status: "failed", error: error)
                }
            }
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json {
            JSONOutput.print(["servers": summaries])
        } else {
            for summary in summaries {
                print("\(summary.server): \(summary.status)\((summary.heldBy ?? summary.error).map { " — \($0)" } ?? "")")
                if summary.status == "synced" {
                    print("  \(summary.records) record(s) in \(summary.pages) page(s): \(summary.inserted) new, \(summary.updated) updated, \(summary.deleted) deleted, \(summary.quarantined) quarantined; cursor \(summary.cursor ?? "-")")
                }
            }
        }
        if summaries.contains(where: { $0.status == "failed" }) { throw ExitCode(CommandFailure.Status.temporary.rawValue) }
    }
}
