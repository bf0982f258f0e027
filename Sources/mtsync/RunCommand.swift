import ArgumentParser
import Foundation
import Logging
import MTSyncBridge
import MTSyncApp
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import ServiceLifecycle

/// `mtsync run`: the daemon.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "The daemon: keep every configured server in sync, each on its own interval, under leases shared with other instances.",
        discussion: "SIGTERM or SIGINT stop it cleanly (the page being stored commits or rolls back whole) with exit status 0."
    )

    @OptionGroup var config: ConfigOptions
    @Option(help: "Serve /metrics, /healthz and /readyz on HOST:PORT (default: the file's monitoring.listen; none when neither is given).")
    var listen: String?
    @Flag(help: "When another process already runs this instance.id against the database, wait until it ends and take over instead of exiting 75.")
    var wait = false

    func validate() throws {
        if let listen, MonitoringConfiguration.parseListen(listen) == nil { throw ValidationError("--listen must be HOST:PORT such as 127.0.0.1:9464, not \(listen)") }
    }

    func run() async throws {
        var configuration: MTSyncConfiguration
        do {
            configuration = try config.load(service: true)
        } catch {
            throw CommandFailure.report(error, json: false)
        }
        if let listen, let address = MonitoringConfiguration.parseListen(listen) {
            configuration.monitoring = MonitoringConfiguration(host: address.host, port: address.port, refresh: configuration.monitoring?.refresh ?? .seconds(15))
        }
        let daemon: DaemonAssembly
        do {
            daemon = try await SyncBootstrap(configuration: configuration).assembleDaemon(wait: wait)
        } catch {
            throw CommandFailure.report(error, json: false)
        }
        do {
            try await daemon.run()
        } catch let error as StoreRefusal {
            // Another process took this instance over while this one was cut off from the database.
            throw CommandFailure.report(error, json: false)
        }
    }
}
