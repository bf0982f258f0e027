import Foundation
import MTSyncCore

/// The daemon's configuration: one YAML file (docs/configuration.md) plus environment overrides for secrets,
/// decoded once into validated values.
public struct MTSyncConfiguration: Sendable, Equatable {
    /// Nil: libpq's own defaults (`PG*` variables, the service and password files).
    public var databaseURL: DatabaseURL?
    /// This instance's name in leases; default `<hostname>:<pid>`.
    public var instanceID: String
    public var leaseTTL: Duration
    public var servers: [ServerConfiguration]
    /// Where the relay delivers; nil: no relay (events wait in the outbox).
    public var ingest: IngestConfiguration?
    /// The loyalty platform's daily feed (docs/ingest.md, "The daily feed"); nil: off.
    public var feed: FeedConfiguration?
    /// The /metrics, /healthz, /readyz server; nil: none.
    public var monitoring: MonitoringConfiguration?
    public var logging = LoggingConfiguration()
    /// What works but should be fixed (a secret file every user may read): printed by `check-config`, logged by the
    /// daemon at start.
    public var warnings: [ConfigurationProblem] = []

    public init(databaseURL: DatabaseURL?, instanceID: String, leaseTTL: Duration, servers: [ServerConfiguration], ingest: IngestConfiguration? = nil, feed: FeedConfiguration? = nil) {
        self.databaseURL = databaseURL
        self.instanceID = instanceID
        self.leaseTTL = leaseTTL
        self.servers = servers
        self.ingest = ingest
        self.feed = feed
    }

    /// The environment variable that overrides `database.url`.
    public static let databaseURLVariable = "MTSYNC_DATABASE_URL"

    /// Reads and validates the file at `path`, reading bridge keys from their files or from `environment`.
    /// Relative paths inside the file are taken relative to the file's folder. Throws every problem found, not
    /// just the first.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationErrors) -> MTSyncConfiguration {
        let url = URL(fileURLWithPath: path)
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ConfigurationErrors(file: path, problems: [ConfigurationProblem(path: path, message: "cannot read the configuration file: \(FileAccess.reason(for: url.path, wanted: .file)); check the path and its permissions")])
        }
        return try parse(yaml: text, file: path, baseDirectory: url.deletingLastPathComponent().path, environment: environment)
    }

    /// Validates configuration text; `file` names it in errors, `baseDirectory` anchors relative paths.
    public static func parse(
        yaml: String, file: String = "(text)", baseDirectory: String = FileManager.default.currentDirectoryPath,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationErrors) -> MTSyncConfiguration {
        var reader = ConfigurationReader(baseDirectory: baseDirectory, environment: environment)
        let configuration = reader.read(yaml: yaml)
        guard let configuration, reader.problems.isEmpty else {
            throw ConfigurationErrors(file: file, problems: reader.sortedProblems)
        }
        return configuration
    }

    /// `<hostname>:<pid>`: unique among instances sharing a database, readable in `mtsync status`.
    public static var defaultInstanceID: String {
        "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }
}
