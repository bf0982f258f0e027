import Foundation
import Logging
import Metrics
import MTSyncEngine
import MTSyncStore
import ServiceLifecycle

/// Logging and metrics for every command: bootstrapped once in `main`, then configured from the file.
public enum Operations {
    /// The process's metrics, rendered by /metrics when `mtsync run` serves it.
    public static let exposition = PrometheusExposition()

    /// Before any command runs: every log line through mtsync's handler (redacting the environment's secrets from
    /// the start) and every metric into the Prometheus registry.
    public static func bootstrap() {
        let environment = ProcessInfo.processInfo.environment
        // Commands that never read the configuration file (status, migrate, cursor, outbox) still know these.
        let databasePasswords = environment[MTSyncConfiguration.databaseURLVariable].map(DatabaseURL.passwords(in:)) ?? []
        LoggingSetup.bootstrap(secrets: MTSyncConfiguration.secretEnvironmentVariables.compactMap { environment[$0] } + databasePasswords)
        MetricsSystem.bootstrap(exposition)
    }

    /// The `mtsync run` services for `monitoring:`: the HTTP server and the database gauges' refresher, each on a
    /// connection of its own.
    public static func services(for monitoring: MonitoringConfiguration, engine: SyncBootstrap, leases: LeaseBoard, logger: Logger) async throws -> [any Service] {
        let readiness = ReadinessCheck(connection: try await engine.connect(), migrator: try Migrator.embedded(), leases: leases)
        return [
            OperationsServer(host: monitoring.host, port: monitoring.port, exposition: exposition, readiness: readiness, logger: logger),
            StoreGaugeService(connection: try await engine.connect(), every: monitoring.refresh, logger: logger),
        ]
    }
}

extension MTSyncConfiguration {
    /// The file's `logging:` with the command line's overrides, and this configuration's secrets to redact.
    public func configureLogging(format: String?, level: String?) {
        let format = LogFormat(rawValue: format ?? logging.format) ?? .logfmt
        let levels: LogLevels
        if let level, let chosen = Logger.Level(rawValue: level) {
            // --log-level is for the moment at hand: it wins over the file's per-subsystem levels too.
            levels = LogLevels(default: chosen)
        } else {
            levels = LogLevels(
                default: Logger.Level(rawValue: logging.level) ?? .info,
                subsystems: logging.subsystemLevels.compactMapValues { Logger.Level(rawValue: $0) })
        }
        LoggingSetup.configure(format: format, levels: levels, secrets: secretsForRedaction())
    }
}
