import Yams

/// `monitoring:` — the HTTP server for /metrics, /healthz and /readyz (docs/operations.md). Absent: no server.
public struct MonitoringConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// How often the gauges kept in the database (lag, backlog, quarantine, holds) are read again.
    public var refresh: Duration

    public init(host: String, port: Int, refresh: Duration = .seconds(15)) {
        self.host = host
        self.port = port
        self.refresh = refresh
    }

    /// `host:port`, `[v6]:port` or `:port` (every interface); the port 0…65535 (0: any free port, for tests).
    public static func parseListen(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }
        guard !host.contains(where: { $0 == " " || $0 == "/" }) else { return nil }
        return (host, port)
    }
}

/// `logging:` — how log lines look and which are written. Levels stay names here (this module knows no
/// swift-log); the log handler maps them.
public struct LoggingConfiguration: Sendable, Equatable {
    public static let formats = ["logfmt", "json"]
    public static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
    /// The loggers mtsync labels `mtsync.<subsystem>`.
    public static let subsystems = ["main", "sync", "relay", "feed", "accounts", "aggregates", "operations", "lifecycle"]

    public var format: String
    public var level: String
    public var subsystemLevels: [String: String]

    public init(format: String = "logfmt", level: String = "info", subsystemLevels: [String: String] = [:]) {
        self.format = format
        self.level = level
        self.subsystemLevels = subsystemLevels
    }
}

extension ConfigurationReader {
    static let monitoringKeys = ["listen", "refresh"]
    static let loggingKeys = ["format", "level", "levels"]

    /// The outer optional is nil on a problem; the inner is nil when there is no `monitoring`.
    mutating func readMonitoring(_ top: Mapping) -> MonitoringConfiguration?? {
        guard let node = top["monitoring"], !node.isNull else { return .some(nil) }
        guard let section = mapping(node, path: "monitoring", keys: Self.monitoringKeys) else { return nil }
        let problemsBefore = problems.count
        var address: (host: String, port: Int)?
        if let (text, mark) = required(section, "listen", hint: "host:port for /metrics, /healthz and /readyz, e.g. 127.0.0.1:9464") {
            address = MonitoringConfiguration.parseListen(text)
            if address == nil {
                report("monitoring.listen", mark, "must be host:port such as 127.0.0.1:9464, [::1]:9464 or :9464 (every interface), not \(String(reflecting: text))")
            }
        }
        let refresh = section["refresh"] != nil ? duration(section, "refresh", minimum: .seconds(1)) : .seconds(15)
        guard problems.count == problemsBefore, let address, let refresh else { return nil }
        return MonitoringConfiguration(host: address.host, port: address.port, refresh: refresh)
    }

    mutating func readLogging(_ top: Mapping) -> LoggingConfiguration? {
        guard let node = top["logging"], !node.isNull else { return LoggingConfiguration() }
        guard let section = mapping(node, path: "logging", keys: Self.loggingKeys) else { return nil }
        let problemsBefore = problems.count
        var logging = LoggingConfiguration()
        if let (text, mark) = scalar(section, "format") {
            if LoggingConfiguration.formats.contains(text) { logging.format = text } else {
                report("logging.format", mark, "must be logfmt (for terminals) or json (one object per line, for log shippers), not \(String(reflecting: text))")
            }
        }
        if let (text, mark) = scalar(section, "level") {
            if LoggingConfiguration.levels.contains(text) { logging.level = text } else {
                report("logging.level", mark, "must be one of \(LoggingConfiguration.levels.joined(separator: ", ")), not \(String(reflecting: text))")
            }
        }
        if let node = section["levels"], !node.isNull, let levels = mapping(node, path: "logging.levels", keys: LoggingConfiguration.subsystems) {
            for subsystem in LoggingConfiguration.subsystems {
                guard let (text, mark) = scalar(levels, subsystem) else { continue }
                if LoggingConfiguration.levels.contains(text) { logging.subsystemLevels[subsystem] = text } else {
                    report("logging.levels.\(subsystem)", mark, "must be one of \(LoggingConfiguration.levels.joined(separator: ", ")), not \(String(reflecting: text))")
                }
            }
        }
        return problems.count == problemsBefore ? logging : nil
    }
}
