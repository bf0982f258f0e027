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
        let engine = SyncBootstrap(configuration: configuration)
        var summaries: [SyncSummary] = []
        do {
            let connection = try await engine.connect()
            try await engine.checkSchema(connection)
            // Leases on a connection of their own, as in the daemon: a renewal queued behind a slow page on the
            // pull's connection let the lease expire on a loaded machine while the pull was healthy.
            let leaseConnection = try await engine.connect()
            // This process holds its leases under its own token and is seen alive while the lease connection lasts:
            // a daemon with the same instance id leaves them alone (and takes them back at once if this one dies).
            let holder = LeaseHolder.thisProcess(instanceID: self.owner ?? configuration.instanceID)
            try await holder.markAlive(on: leaseConnection)
            for server in try engine.servers(named: self.server) {
                try await FactStore.register(serverID: server.id, platform: server.platform, zone: server.zoneName, on: connection)
                let pull = try engine.puller(for: server, connection: connection)
                let lease: ServerLease
                switch try await ServerLease.take(serverID: server.id.rawValue, holder: holder, ttl: configuration.leaseTTL, on: leaseConnection) {
                case .held(let held):
                    lease = held
                case .heldByAnother(let other):
                    summaries.append(SyncSummary(server: server.id.rawValue, status: "held by another instance", heldBy: other.holderDescription))
                    continue
                }
                do {
                    let report = try await ServerLease.holding(lease, ttl: configuration.leaseTTL, renewingOn: leaseConnection) { try await pull() }
                    summaries.append(SyncSummary(server: server.id.rawValue, status: "synced", report: report))
                } catch {
                    summaries.append(SyncSummary(server: server.id.rawValue, status: "failed", error: String(describing: error)))
                    try? await FactStore.recordError(serverID: server.id, stream: server.platform == .mt5 ? .deals : .trades, message: String(describing: error), on: connection)
                }
                _ = try? await ServerLease.release(lease, on: leaseConnection)
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
