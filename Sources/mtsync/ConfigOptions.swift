import ArgumentParser
import Foundation
import Logging
import MTSyncApp

/// `--config FILE` for the commands that sync.
struct ConfigOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "The configuration file (YAML). Default: $MTSYNC_CONFIG, then /etc/mtsync/mtsync.yaml.")
    var path: String?

    @Option(help: "Log line format: logfmt or json (default: the file's logging.format, else logfmt).")
    var logFormat: String?

    @Option(help: "Log level for every subsystem: trace, debug, info, notice, warning, error, critical (default: the file's logging.level, else info).")
    var logLevel: String?

    var resolvedPath: String {
        path ?? ProcessInfo.processInfo.environment["MTSYNC_CONFIG"] ?? "/etc/mtsync/mtsync.yaml"
    }

    func validate() throws {
        if let logFormat, LogFormat(rawValue: logFormat) == nil { throw ValidationError("--log-format must be logfmt or json, not \(logFormat)") }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of \(LoggingConfiguration.levels.joined(separator: ", ")), not \(logLevel)")
        }
    }

    /// Reads the file and sets logging up from it (format, levels, and the secrets to redact from every line).
    ///
    /// `service`: the command runs until stopped (`run`, `relay` and `feed run` without `--once`) and its log is
    /// its only account of itself, so the file's levels apply. A command that runs once prints its result on
    /// stdout; its log shows warnings and errors only unless `--log-level` asks for more, so a cron job's mail holds
    /// what went wrong rather than a line per page.
    func load(service: Bool = false) throws -> MTSyncConfiguration {
        let configuration = try MTSyncConfiguration.load(path: resolvedPath)
        configuration.configureLogging(format: logFormat, level: logLevel ?? (service ? nil : "warning"))
        return configuration
    }
}
