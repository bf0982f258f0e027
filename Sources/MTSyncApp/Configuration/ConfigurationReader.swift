import Foundation
import MTSyncCore
import Yams

/// Walks the YAML node tree of a configuration file, collecting every problem with its location instead of
/// stopping at the first (which is all Codable decoding could do), and builds the validated values.
struct ConfigurationReader {
    let baseDirectory: String
    let environment: [String: String]
    private(set) var problems: [ConfigurationProblem] = []
    private(set) var warnings: [ConfigurationProblem] = []
    /// The servers whose `accounts_every` is set neither in their section nor in `defaults`.
    var serversInheritingFeedAccountsEvery: Set<String> = []

    init(baseDirectory: String, environment: [String: String]) {
        self.baseDirectory = baseDirectory
        self.environment = environment
    }

    /// Problems in file order; those without a line (environment, files) after the line they belong near.
    var sortedProblems: [ConfigurationProblem] {
        problems.enumerated().sorted { lhs, rhs in
            let l = (lhs.element.line ?? Int.max, lhs.element.column ?? 0, lhs.offset)
            let r = (rhs.element.line ?? Int.max, rhs.element.column ?? 0, rhs.offset)
            return l < r
        }.map(\.element)
    }

    // MARK: - The file

    static let topKeys = ["database", "instance", "defaults", "servers", "ingest", "feed", "monitoring", "logging"]

    mutating func read(yaml: String) -> MTSyncConfiguration? {
        if let (line, column) = YAMLNesting.tooDeep(yaml) {
            let message = "lists and mappings are nested more than \(YAMLNesting.maximumDepth) levels deep here; no setting is deeper than 8: check the brackets and the indentation"
            problems.append(ConfigurationProblem(path: "", line: line, column: column, message: message))
            return nil
        }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                report("", nil, "the file is empty: it needs at least a `servers` list (see docs/examples/mtsync.yaml)")
                return nil
            }
            root = node
        } catch let error as YamlError {
            reportSyntax(error)
            return nil
        } catch {
            report("", nil, "the file could not be parsed as YAML: \(error)")
            return nil
        }
        guard let top = mapping(root, path: "", keys: Self.topKeys) else { return nil }

        let database = readDatabase(top)
        let (instanceID, leaseTTL) = readInstance(top)
        var defaults = ServerTuning.builtIn
        if let node = top["defaults"], !node.isNull, let section = mapping(node, path: "defaults", keys: ServerTuning.keys) {
            defaults = readTuning(section, inheriting: defaults)
        }
        let servers = readServers(top, defaults: defaults)
        let ingest = readIngest(top)
        let feed = readFeed(top, ingest: ingest ?? nil)
        let monitoring = readMonitoring(top)
        let logging = readLogging(top)
        guard var servers, let instanceID, let leaseTTL, let ingest, let feed, let monitoring, let logging, problems.isEmpty else { return nil }
        // `feed.accounts_every` is where the interval was set before it became a server setting.
        if let every = feed?.accountsEvery {
            for index in servers.indices where serversInheritingFeedAccountsEvery.contains(servers[index].id.rawValue) { servers[index].sync.accountsEvery = every }
        }
        var configuration = MTSyncConfiguration(databaseURL: database, instanceID: instanceID, leaseTTL: leaseTTL, servers: servers, ingest: ingest, feed: feed)
        configuration.monitoring = monitoring
        configuration.logging = logging
        configuration.warnings = warnings
        return configuration
    }

    mutating func reportSyntax(_ error: YamlError) {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _), .composer(let context, let problem, let mark, _):
            // The snippet Yams adds to its description is left out: the line could hold a database password.
            let where_ = context.map { " \($0.text)" } ?? ""
            report("", mark, "the file is not valid YAML: \(problem)\(where_); fix the syntax there (indent with spaces, not tabs)")
        case .reader(let problem, _, _, _):
            report("", nil, "the file could not be read as YAML text: \(problem); save it as UTF-8")
        default:
            report("", nil, "the file could not be parsed as YAML: \(error)")
        }
    }

    // MARK: - database, instance

    mutating func readDatabase(_ top: Mapping) -> DatabaseURL? {
        var fromFile: (DatabaseURL, Mark?)?
        if let node = top["database"], !node.isNull, let section = mapping(node, path: "database", keys: ["url"]) {
            if let (text, mark) = scalar(section, "url"), !text.isEmpty { fromFile = (DatabaseURL(text), mark) }
        }
        if let override = environment[MTSyncConfiguration.databaseURLVariable], !override.trimmingASCIIWhitespace().isEmpty {
            let url = DatabaseURL(override.trimmingASCIIWhitespace())
            if !url.looksValid {
                report("\(MTSyncConfiguration.databaseURLVariable) (environment)", nil, "is neither a postgresql:// URL nor a `host=… dbname=…` connection string: fix or unset it")
            }
            return url
        }
        guard let (url, mark) = fromFile else { return nil }
        if !url.looksValid {
            report("database.url", mark, "is neither a postgresql:// URL nor a `host=… dbname=…` connection string: write it as libpq accepts it, e.g. postgresql://mtsync@db.internal/mtsync")
        }
        return url
    }

    mutating func readInstance(_ top: Mapping) -> (String?, Duration?) {
        var id: String? = MTSyncConfiguration.defaultInstanceID
        var ttl: Duration? = .seconds(30)
        guard let node = top["instance"], !node.isNull, let section = mapping(node, path: "instance", keys: ["id", "lease_ttl"]) else { return (id, ttl) }
        if let (text, mark) = scalar(section, "id") {
            if text.isEmpty || text.count > 200 || text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                report("instance.id", mark, "must be 1 to 200 printable characters; leave it out to use <hostname>:<pid>")
                id = nil
            } else {
                id = text
            }
        }
        if section["lease_ttl"] != nil { ttl = duration(section, "lease_ttl", minimum: .seconds(1)) }
        return (id, ttl)
    }

    // Problems and warnings are only ever added here: the rest of the reader reports, never edits the lists.
    mutating func report(_ path: String, _ mark: Mark?, _ message: String) {
        problems.append(ConfigurationProblem(path: path, line: mark?.line, column: mark?.column, message: message))
    }

    mutating func warn(_ path: String, _ mark: Mark?, _ message: String) {
        warnings.append(ConfigurationProblem(path: path, line: mark?.line, column: mark?.column, message: message))
    }
}
