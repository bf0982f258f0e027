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
        guard let servers, let instanceID, let leaseTTL, let ingest, let feed, let monitoring, let logging, problems.isEmpty else { return nil }
        var configuration = MTSyncConfiguration(databaseURL: database, instanceID: instanceID, leaseTTL: leaseTTL, servers: servers, ingest: ingest, feed: feed)
        configuration.monitoring = monitoring
        configuration.logging = logging
        configuration.warnings = warnings
        return configuration
    }

    private mutating func reportSyntax(_ error: YamlError) {
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

    private mutating func readDatabase(_ top: Mapping) -> DatabaseURL? {
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

    private mutating func readInstance(_ top: Mapping) -> (String?, Duration?) {
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

    // MARK: - Polling settings shared by `defaults` and each server

    struct ServerTuning {
        var pollInterval: Duration
        var lookback: Duration
        var pageSize: Int
        var pollJitter: Double
        var reconcileEvery: Duration?
        var reconcileWindow: Duration
        /// Nil: not set here (the engine's default, or the older `feed.accounts_every`).
        var accountsEvery: Duration?
        var symbolsEvery: Duration?
        var dailyEvery: Duration?
        var pendingWarnAfter: Duration?
        /// Which record times are stored (`plausible_times`); a record outside is quarantined.
        var plausibleTimes = PlausibleTimeRule.standard

        static let builtIn = ServerTuning(
            pollInterval: .seconds(10), lookback: .seconds(2 * 3600), pageSize: 5000, pollJitter: 0.1,
            reconcileEvery: .seconds(24 * 3600), reconcileWindow: .seconds(3 * 86_400)
        )
        static let keys = ["poll_interval", "lookback", "page_size", "poll_jitter", "reconcile", "accounts_every", "symbols_every", "daily_every", "pending_warn_after", "plausible_times"]
        static let maximumPageSize = 10_000
    }

    /// Reads the tuning keys present in `section`; an absent or invalid one keeps the inherited value (an invalid
    /// one is reported, so the file is refused all the same, but servers do not repeat the problem).
    private mutating func readTuning(_ section: Mapping, inheriting inherited: ServerTuning) -> ServerTuning {
        var tuning = inherited
        if section["poll_interval"] != nil, let value = duration(section, "poll_interval", minimum: .milliseconds(100)) { tuning.pollInterval = value }
        if section["lookback"] != nil, let value = duration(section, "lookback", minimum: .zero) { tuning.lookback = value }
        if section["accounts_every"] != nil, let value = duration(section, "accounts_every", minimum: .seconds(10)) { tuning.accountsEvery = value }
        if section["symbols_every"] != nil, let value = duration(section, "symbols_every", minimum: .seconds(60)) { tuning.symbolsEvery = value }
        if section["daily_every"] != nil, let value = duration(section, "daily_every", minimum: .seconds(1)) { tuning.dailyEvery = value }
        if section["pending_warn_after"] != nil, let value = duration(section, "pending_warn_after", minimum: .seconds(60)) { tuning.pendingWarnAfter = value }
        if let (text, mark) = scalar(section, "page_size") {
            if let value = Int(text), (1...ServerTuning.maximumPageSize).contains(value) {
                tuning.pageSize = value
            } else {
                report(section.child("page_size"), mark, "must be a whole number from 1 to \(ServerTuning.maximumPageSize) (the bridge protocol's page limit), not \(String(reflecting: text))")
            }
        }
        if let (text, mark) = scalar(section, "poll_jitter") {
            if let value = Self.percentage(text), (0...50).contains(value) {
                tuning.pollJitter = value / 100
            } else {
                report(section.child("poll_jitter"), mark, "must be a percentage from 0% to 50%, like 10%, not \(String(reflecting: text))")
            }
        }
        if let node = section["reconcile"], !node.isNull, let reconcile = mapping(node, path: section.child("reconcile"), keys: ["every", "window"]) {
            if let (text, mark) = scalar(reconcile, "every") {
                if ["off", "false", "no", "never"].contains(text.lowercased()) {
                    tuning.reconcileEvery = nil
                } else if let value = checkedDuration(text, at: reconcile.child("every"), mark, minimum: .seconds(60), hint: "or `off` to disable the trailing reconcile") {
                    tuning.reconcileEvery = value
                }
            }
            if reconcile["window"] != nil, let value = duration(reconcile, "window", minimum: .seconds(60)) { tuning.reconcileWindow = value }
        }
        if let node = section["plausible_times"], !node.isNull, let window = mapping(node, path: section.child("plausible_times"), keys: ["earliest", "ahead"]) {
            if let (text, mark) = scalar(window, "earliest") {
                if let value = ServerStart.parse(text) {
                    tuning.plausibleTimes.earliestServerMilliseconds = value
                } else {
                    report(window.child("earliest"), mark, "must be a server-time date YYYY-MM-DD (1970 to 2999) before which no record is stored, not \(String(reflecting: text))")
                }
            }
            if window["ahead"] != nil, let value = duration(window, "ahead", minimum: .seconds(60)) {
                tuning.plausibleTimes = PlausibleTimeRule(earliestServerMilliseconds: tuning.plausibleTimes.earliestServerMilliseconds, ahead: value)
            }
        }
        return tuning
    }

    static func percentage(_ text: String) -> Double? {
        let trimmed = text.trimmingASCIIWhitespace()
        guard trimmed.hasSuffix("%") else { return nil }
        let number = String(trimmed.dropLast()).trimmingASCIIWhitespace()
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) else { return nil }
        return Double(number)
    }

    // MARK: - servers

    static let serverKeys = ["id", "platform", "time_zone", "start", "bridge", "drop", "rules_file", "rules"] + ServerTuning.keys

    private mutating func readServers(_ top: Mapping, defaults: ServerTuning) -> [ServerConfiguration]? {
        guard let node = top["servers"], !node.isNull else {
            report("servers", top.mark, "is required: list the trade servers to sync (see docs/examples/mtsync.yaml)")
            return nil
        }
        guard case .sequence(let list) = node else {
            report("servers", node.mark, "must be a list of servers (each item starting with `- id: …`), found \(node.kindName)")
            return nil
        }
        guard !list.isEmpty else {
            report("servers", node.mark, "is empty: list at least one trade server")
            return nil
        }
        var servers: [ServerConfiguration] = []
        var seen: [String: Int] = [:]
        var complete = true
        for (index, item) in list.enumerated() {
            let path = "servers[\(index)]"
            guard let section = mapping(item, path: path, keys: Self.serverKeys) else {
                complete = false
                continue
            }
            // Peeked at without reporting: readServer reports a malformed id.
            if let idNode = section["id"], case .scalar(let scalar) = idNode {
                let id = scalar.string.trimmingASCIIWhitespace()
                if let first = seen[id] {
                    report(section.child("id"), idNode.mark, "server id \(String(reflecting: id)) is already used by servers[\(first)]: give each server its own id")
                    complete = false
                } else {
                    seen[id] = index
                }
            }
            if let server = readServer(section, defaults: defaults) { servers.append(server) } else { complete = false }
        }
        return complete ? servers : nil
    }

    private mutating func readServer(_ section: Mapping, defaults: ServerTuning) -> ServerConfiguration? {
        var id: ServerID?
        if let (text, mark) = required(section, "id", hint: "give the server an id such as live-mt5 (letters, digits, '_', '.', '-')") {
            do { id = try ServerID(text) } catch { report(section.child("id"), mark, "\(error)") }
        }
        var platform: Platform?
        if let (text, mark) = required(section, "platform", hint: "write `platform: mt4` or `platform: mt5`") {
            platform = Platform(rawValue: text)
            if platform == nil { report(section.child("platform"), mark, "must be mt4 or mt5, not \(String(reflecting: text))") }
        }
        var zone: ServerTimeZone?
        if let (text, mark) = required(section, "time_zone", hint: "give the trade server's clock: an IANA name (Europe/Athens), a fixed offset (+02:00) or ny-close") {
            zone = ServerTimeZone(text)
            if zone == nil {
                report(section.child("time_zone"), mark, "\(String(reflecting: text)) is not an IANA zone name (Europe/Athens), a fixed offset (+02:00, UTC) or ny-close (New York + 7 h)")
            }
        }
        var start: Int64?
        if let (text, mark) = required(section, "start", hint: "give the server-time date where the first sync begins, e.g. `start: 2025-01-01`") {
            start = ServerStart.parse(text)
            if start == nil { report(section.child("start"), mark, "must be a server-time date YYYY-MM-DD or date and time YYYY-MM-DDTHH:MM, not \(String(reflecting: text))") }
        }
        let source = readSource(section)
        let rules = readRules(section, id: id, platform: platform)
        let tuning = readTuning(section, inheriting: defaults)
        guard let id, let platform, let zone, let start, let source, let rules else { return nil }
        return ServerConfiguration(
            id: id, platform: platform, zoneName: zone.name, zone: zone, start: start, source: source,
            pollInterval: tuning.pollInterval, lookback: tuning.lookback, pageSize: tuning.pageSize, pollJitter: tuning.pollJitter,
            reconcileEvery: tuning.reconcileEvery, reconcileWindow: tuning.reconcileWindow, rules: rules,
            accountsEvery: tuning.accountsEvery, symbolsEvery: tuning.symbolsEvery, dailyEvery: tuning.dailyEvery, pendingWarnAfter: tuning.pendingWarnAfter,
            plausibleTimes: tuning.plausibleTimes
        )
    }

    // MARK: - bridge / drop

    static let bridgeKeys = ["address", "key_id", "key_file", "key_env", "tls", "connect_timeout", "read_timeout", "request_timeout", "handshake_timeout", "give_up_after"]

    private mutating func readSource(_ server: Mapping) -> ServerConfiguration.Source? {
        let bridgeNode = server["bridge"].flatMap { $0.isNull ? nil : $0 }
        let dropNode = server["drop"].flatMap { $0.isNull ? nil : $0 }
        switch (bridgeNode, dropNode) {
        case (nil, nil):
            report(server.path, server.mark, "needs a source: a `bridge:` section (TCP export bridge) or a `drop:` section (CSV drop folder)")
            return nil
        case (.some, .some(let drop)):
            report(server.child("drop"), server.keyMark("drop") ?? drop.mark, "a server has one source: keep either `bridge:` or `drop:`, not both")
            return nil
        case (.some(let node), nil):
            guard let bridge = mapping(node, path: server.child("bridge"), keys: Self.bridgeKeys) else { return nil }
            return readBridge(bridge).map { .bridge($0) }
        case (nil, .some(let node)):
            guard let drop = mapping(node, path: server.child("drop"), keys: ["folder", "max_file_size"]) else { return nil }
            guard let (text, mark) = required(drop, "folder", hint: "give the drop root, the folder holding <server id>/incoming/") else { return nil }
            let folder = resolve(text)
            if let problem = FileAccess.problem(at: folder, wanted: .directory) {
                report(drop.child("folder"), mark, "cannot use the drop folder: \(problem); create it or fix the path")
                return nil
            }
            var source = ServerConfiguration.DropSource(folder: folder)
            if let (text, mark) = scalar(drop, "max_file_size") {
                guard let bytes = ByteSizeText.parse(text), bytes >= 1 << 10 else {
                    report(drop.child("max_file_size"), mark, "must be a size of at least 1KiB, like 512MiB or 4GiB (binary units: B, KiB, MiB, GiB, TiB)")
                    return nil
                }
                source.maxFileBytes = bytes
            }
            return .drop(source)
        }
    }

    private mutating func readBridge(_ bridge: Mapping) -> BridgeSource? {
        var endpoint: (host: String, port: Int)?
        if let (text, mark) = required(bridge, "address", hint: "give the bridge's host:port, e.g. bridge.internal:7465") {
            endpoint = Self.hostAndPort(text)
            if endpoint == nil { report(bridge.child("address"), mark, "must be host:port (port 1–65535; IPv6 as [::1]:7465), not \(String(reflecting: text))") }
        }
        var keyID: String?
        if let (text, mark) = required(bridge, "key_id", hint: "give the id the bridge knows the key by") {
            if Self.looksLikeKey(text) {
                report(bridge.child("key_id"), mark, "looks like a key, not a key id: the key belongs in the file named by key_file or the variable named by key_env")
            } else if text.isEmpty || text.count > 64 {
                report(bridge.child("key_id"), mark, "must be 1 to 64 characters")
            } else {
                keyID = text
            }
        }
        let key = readKey(bridge)
        var tls: TLSFiles?
        var tlsValid = true
        if let node = bridge["tls"], !node.isNull {
            tls = readTLS(node, path: bridge.child("tls"))
            tlsValid = tls != nil
        }
        let connectTimeout = bridge["connect_timeout"] == nil ? .seconds(10) : duration(bridge, "connect_timeout", minimum: .milliseconds(1))
        let readTimeout = bridge["read_timeout"] == nil ? .seconds(60) : duration(bridge, "read_timeout", minimum: .milliseconds(1))
        let requestTimeout = bridge["request_timeout"] == nil ? .seconds(600) : duration(bridge, "request_timeout", minimum: .seconds(1))
        let handshakeTimeout = bridge["handshake_timeout"] == nil ? .seconds(30) : duration(bridge, "handshake_timeout", minimum: .milliseconds(1))
        let giveUpAfter = bridge["give_up_after"] == nil ? .seconds(300) : duration(bridge, "give_up_after", minimum: .seconds(1))
        guard let endpoint, let keyID, let key, tlsValid, let connectTimeout, let readTimeout, let requestTimeout, let handshakeTimeout, let giveUpAfter else { return nil }
        var source = BridgeSource(
            host: endpoint.host, port: endpoint.port, keyID: keyID, key: key, tls: tls, connectTimeout: connectTimeout, readTimeout: readTimeout,
            requestTimeout: requestTimeout)
        source.handshakeTimeout = handshakeTimeout
        source.giveUpAfter = giveUpAfter
        return source
    }

    private static let keyHint = "it must hold the key as hex, at least 64 hex digits (32 bytes), and nothing else"

    private mutating func readKey(_ bridge: Mapping) -> BridgeSecret? {
        let file = scalar(bridge, "key_file")
        let variable = scalar(bridge, "key_env")
        switch (file, variable) {
        case (nil, nil):
            report(bridge.child("key_file"), bridge.mark, "the bridge key is missing: set key_file (a file holding the key as hex) or key_env (an environment variable holding it); the key itself never goes in this file")
            return nil
        case (.some, .some(let (_, mark))):
            report(bridge.child("key_env"), mark, "set only one of key_file and key_env")
            return nil
        case (.some(let (text, mark)), nil):
            if Self.looksLikeKey(text) {
                report(bridge.child("key_file"), mark, "holds what looks like the key itself: put the key in a file (readable only by mtsync) and name that file here")
                return nil
            }
            let path = resolve(text)
            if let problem = FileAccess.problem(at: path, wanted: .file) {
                report(bridge.child("key_file"), mark, "cannot read the key file: \(problem); check the path and its permissions")
                return nil
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                report(bridge.child("key_file"), mark, "cannot read the key file \(path); check its permissions")
                return nil
            }
            guard let key = BridgeSecret(hex: String(decoding: data, as: UTF8.self)) else {
                report(bridge.child("key_file"), mark, "the key file \(path) does not hold a valid key: \(Self.keyHint)")
                return nil
            }
            warnIfOthersCanAccess(secretFile: path, at: bridge.child("key_file"), mark)
            return key
        case (nil, .some(let (name, mark))):
            if Self.looksLikeKey(name) {
                report(bridge.child("key_env"), mark, "holds what looks like the key itself: name an environment variable here and put the key in it")
                return nil
            }
            guard let value = environment[name], !value.trimmingASCIIWhitespace().isEmpty else {
                report(bridge.child("key_env"), mark, "the environment variable \(name) is not set or empty: export the bridge key (hex) in it before starting mtsync")
                return nil
            }
            guard let key = BridgeSecret(hex: value) else {
                report(bridge.child("key_env"), mark, "the environment variable \(name) does not hold a valid key: \(Self.keyHint)")
                return nil
            }
            return key
        }
    }

    private mutating func readTLS(_ node: Node, path: String) -> TLSFiles? {
        guard let tls = mapping(node, path: path, keys: ["ca_file", "cert_file", "key_file", "server_name"]) else { return nil }
        var files = TLSFiles()
        var valid = true
        func file(_ reader: inout ConfigurationReader, _ key: String) -> String? {
            guard let (text, mark) = reader.scalar(tls, key) else { return nil }
            let resolved = reader.resolve(text)
            if let problem = FileAccess.problem(at: resolved, wanted: .file) {
                reader.report(tls.child(key), mark, "cannot read the TLS file: \(problem); check the path and its permissions")
                valid = false
            }
            return resolved
        }
        files.caFile = file(&self, "ca_file")
        files.certFile = file(&self, "cert_file")
        files.keyFile = file(&self, "key_file")
        if let keyFile = files.keyFile, valid { warnIfOthersCanAccess(secretFile: keyFile, at: tls.child("key_file"), tls.mark) }
        if (files.certFile == nil) != (files.keyFile == nil) {
            let missing = files.certFile == nil ? "cert_file" : "key_file"
            report(tls.child(missing), tls.mark, "a client certificate needs both cert_file and key_file: add \(missing) or remove the other")
            valid = false
        }
        if let (text, mark) = scalar(tls, "server_name") {
            if text.isEmpty || text.contains(where: { $0 == " " || $0 == "/" }) {
                report(tls.child("server_name"), mark, "must be a host name, the one the bridge's certificate carries")
                valid = false
            } else {
                files.serverName = text
            }
        }
        return valid ? files : nil
    }

    /// `host:port` or `[v6]:port`.
    static func hostAndPort(_ text: String) -> (host: String, port: Int)? {
        let host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else { return nil }
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" || $0 == "@" }),
            portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText), (1...65535).contains(port)
        else { return nil }
        return (String(host), port)
    }

    /// A value an operator may have pasted the key into by mistake: 64 or more hex digits. Such values are
    /// never echoed in a message.
    static func looksLikeKey(_ text: String) -> Bool {
        let trimmed = text.trimmingASCIIWhitespace()
        return trimmed.utf8.count >= 64 && trimmed.allSatisfy(\.isHexDigit)
    }

    // MARK: - rules

    private mutating func readRules(_ server: Mapping, id: ServerID?, platform: Platform?) -> NormalizationRules? {
        let inline = server["rules"].flatMap { $0.isNull ? nil : $0 }
        let file = scalar(server, "rules_file")
        let rules: NormalizationRules?
        switch (inline, file) {
        case (nil, nil):
            return NormalizationRules()
        case (.some, .some(let (_, mark))):
            report(server.child("rules_file"), mark, "set either rules_file or rules (inline), not both")
            return nil
        case (.some(let node), nil):
            rules = readInlineRules(node, path: server.child("rules"))
        case (nil, .some(let (text, mark))):
            rules = readRulesFile(resolve(text), path: server.child("rules_file"), mark: mark)
        }
        guard let rules else { return nil }
        // Apply them once now, so a bad entry (an empty canonical symbol, a login that is not a number) stops
        // the daemon at start-up instead of at the first record.
        var settings = ServerSettings(server: id ?? (try! ServerID("placeholder")), platform: platform ?? .mt5, zone: ServerTimeZone("UTC")!)
        do {
            try rules.apply(to: &settings)
        } catch {
            let path = file == nil ? "\(server.child("rules")).\(error.path)" : server.child("rules_file")
            let mark = file == nil ? inline.flatMap { Self.node(at: error.path.split(separator: ".").map(String.init), in: $0)?.mark ?? $0.mark } : file?.1
            report(path, mark, file == nil ? "\(error.message)" : "in \(resolve(file!.0)): \(error.path): \(error.message)")
            return nil
        }
        return rules
    }

    private mutating func readInlineRules(_ node: Node, path: String) -> NormalizationRules? {
        let before = problems.count
        checkKeys(node, shape: RulesShape.root, path: path)
        guard problems.count == before else { return nil }
        do {
            let text = try Yams.serialize(node: node)
            return try YAMLDecoder().decode(NormalizationRules.self, from: text)
        } catch let error as DecodingError {
            let (codingPath, message) = Self.describe(error)
            let target = Self.node(at: codingPath, in: node)
            report(([path] + codingPath).joined(separator: "."), target?.mark ?? node.mark, message)
        } catch {
            report(path, node.mark, "could not be read: \(error)")
        }
        return nil
    }

    private mutating func readRulesFile(_ file: String, path: String, mark: Mark?) -> NormalizationRules? {
        if let problem = FileAccess.problem(at: file, wanted: .file) {
            report(path, mark, "cannot read the rules file: \(problem); check the path and its permissions")
            return nil
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            report(path, mark, "cannot read the rules file \(file); check its permissions")
            return nil
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) else {
            report(path, mark, "the rules file \(file) is not valid JSON: it uses the format of `mtsync normalize --rules` (see docs/configuration.md)")
            return nil
        }
        var unknown: [String] = []
        Self.unknownKeys(object, shape: RulesShape.root, path: [], into: &unknown)
        for key in unknown {
            report(path, mark, "in \(file): unknown key \(key): check its spelling against the rules format (docs/configuration.md)")
        }
        guard unknown.isEmpty else { return nil }
        do {
            return try JSONDecoder().decode(NormalizationRules.self, from: data)
        } catch let error as DecodingError {
            let (codingPath, message) = Self.describe(error)
            report(path, mark, "in \(file): \(codingPath.isEmpty ? "" : codingPath.joined(separator: ".") + ": ")\(message)")
        } catch {
            report(path, mark, "in \(file): \(error)")
        }
        return nil
    }

    /// Which keys the rules format has (NormalizationRules' coding keys); maps under `*` take any key.
    indirect enum RulesShape: Sendable {
        case keys([String: RulesShape])
        case anyKey(RulesShape)
        case value

        static let root = RulesShape.keys([
            "ambiguous_time": .value,
            "symbols": .keys([
                "map": .value, "suffixes": .value, "prefixes": .value, "default_decorations": .value,
                "table": .anyKey(.keys(["asset_class": .value, "contract_size": .value])),
            ]),
            "filters": .keys(["groups": .value, "include_logins": .value, "exclude_logins": .value, "unknown_group": .value]),
            "accounts": .anyKey(.keys(["group": .value, "currency": .value])),
        ])
    }

    private mutating func checkKeys(_ node: Node, shape: RulesShape, path: String) {
        guard case .mapping(let map) = node else { return }  // type errors are the decoder's to report
        for (keyNode, value) in map {
            let key = keyNode.scalar?.string ?? "?"
            let child = "\(path).\(key)"
            switch shape {
            case .value: return
            case .anyKey(let inner): checkKeys(value, shape: inner, path: child)
            case .keys(let known):
                if let inner = known[key] {
                    checkKeys(value, shape: inner, path: child)
                } else {
                    report(child, keyNode.mark, Self.unknownKeyMessage(key, known: known.keys.sorted()))
                }
            }
        }
    }

    private static func unknownKeys(_ object: Any, shape: RulesShape, path: [String], into unknown: inout [String]) {
        guard let dictionary = object as? [String: Any] else { return }
        for (key, value) in dictionary.sorted(by: { $0.key < $1.key }) {
            switch shape {
            case .value: return
            case .anyKey(let inner): unknownKeys(value, shape: inner, path: path + [key], into: &unknown)
            case .keys(let known):
                if let inner = known[key] {
                    unknownKeys(value, shape: inner, path: path + [key], into: &unknown)
                } else {
                    unknown.append((path + [key]).joined(separator: "."))
                }
            }
        }
    }

    /// The path (as keys and `[n]` indexes) and a sentence for a decoding error of the rules.
    static func describe(_ error: DecodingError) -> (path: [String], message: String) {
        func names(_ path: [any CodingKey]) -> [String] {
            path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
        }
        switch error {
        case .typeMismatch(let type, let context):
            return (names(context.codingPath), "has the wrong type: expected \(typeName(type))")
        case .valueNotFound(let type, let context):
            return (names(context.codingPath), "is empty: expected \(typeName(type))")
        case .keyNotFound(let key, let context):
            return (names(context.codingPath + [key]), "is required")
        case .dataCorrupted(let context):
            return (names(context.codingPath), context.debugDescription)
        @unknown default:
            return ([], "\(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "text"
        case is Bool.Type: "true or false"
        case is UInt64.Type, is Int.Type: "a whole number"
        case is [Any].Type: "a list"
        case is [String: Any].Type: "a mapping"
        default: "\(type)"
        }
    }

    /// The node at a coding path (`["symbols", "suffixes", "[0]"]`), for its line.
    static func node(at path: [String], in root: Node) -> Node? {
        var current = root
        for component in path {
            if component.hasPrefix("["), let index = Int(component.dropFirst().dropLast()), case .sequence(let list) = current, index < list.count {
                current = list[list.index(list.startIndex, offsetBy: index)]
            } else if case .mapping(let map) = current, let value = map.first(where: { $0.key.scalar?.string == component })?.value {
                current = value
            } else {
                return current
            }
        }
        return current
    }

    // MARK: - Mapping and scalar access

    /// A YAML mapping checked against the keys it may have; values by key.
    struct Mapping {
        let path: String
        let mark: Mark?
        var values: [String: Node] = [:]
        fileprivate var keyMarks: [String: Mark] = [:]

        subscript(key: String) -> Node? { values[key] }
        func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        func keyMark(_ key: String) -> Mark? { keyMarks[key] }
    }

    mutating func mapping(_ node: Node, path: String, keys: [String]) -> Mapping? {
        guard case .mapping(let map) = node else {
            report(path, node.mark, "must be a mapping of keys (\(keys.joined(separator: ", "))), found \(node.kindName)")
            return nil
        }
        var result = Mapping(path: path, mark: node.mark)
        for (keyNode, value) in map {
            guard case .scalar(let scalar) = keyNode else {
                report(path, keyNode.mark, "keys must be plain names, found \(keyNode.kindName)")
                continue
            }
            let key = scalar.string
            // A key pasted as a mapping key must not be echoed in the path or the message.
            let child = result.child(Self.looksLikeKey(key) ? "(hidden)" : key)
            if Self.looksLikeKey(key) {
                report(child, keyNode.mark, "this key looks like a secret (64 or more hex digits): secrets never go in this file; give the bridge key with key_file or key_env")
            } else if result.values[key] != nil {
                report(child, keyNode.mark, "\(String(reflecting: key)) appears twice here: keep one")
            } else if !keys.contains(key) {
                report(child, keyNode.mark, Self.unknownKeyMessage(key, known: keys))
            } else {
                result.values[key] = value
                if let mark = keyNode.mark { result.keyMarks[key] = mark }
            }
        }
        return result
    }

    static func unknownKeyMessage(_ key: String, known: [String]) -> String {
        if ["key", "secret", "key_hex", "password"].contains(key.lowercased()) {
            return "unknown key \(String(reflecting: key)): secrets never go in this file; give the bridge key with key_file or key_env and the database password through PGPASSWORD or ~/.pgpass"
        }
        let best = known.map { ($0, editDistance($0, key)) }.min { $0.1 < $1.1 }
        if let best, best.1 <= max(2, key.count / 3) {
            return "unknown key \(String(reflecting: key)): did you mean \(String(reflecting: best.0))?"
        }
        return "unknown key \(String(reflecting: key)): the keys allowed here are \(known.joined(separator: ", "))"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, cb) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// A single value under `key`, as text; nil when absent or null. A list or mapping there is reported.
    mutating func scalar(_ map: Mapping, _ key: String) -> (String, Mark?)? {
        guard let node = map[key], !node.isNull else { return nil }
        guard case .scalar(let scalar) = node else {
            report(map.child(key), node.mark, "must be a single value, found \(node.kindName)")
            return nil
        }
        return (scalar.string.trimmingASCIIWhitespace(), node.mark)
    }

    mutating func required(_ map: Mapping, _ key: String, hint: String) -> (String, Mark?)? {
        guard map[key].map({ !$0.isNull }) ?? false else {
            report(map.child(key), map.mark, "is required: \(hint)")
            return nil
        }
        return scalar(map, key)
    }

    mutating func duration(_ map: Mapping, _ key: String, minimum: Duration) -> Duration? {
        guard let (text, mark) = scalar(map, key) else {
            if map[key]?.isNull == true { report(map.child(key), map[key]?.mark, "is empty: give a duration like 10s, or remove the key for the default") }
            return nil
        }
        return checkedDuration(text, at: map.child(key), mark, minimum: minimum, hint: nil)
    }

    mutating func checkedDuration(_ text: String, at path: String, _ mark: Mark?, minimum: Duration, hint: String?) -> Duration? {
        guard let value = DurationText.parse(text) else {
            let bare = !text.isEmpty && text.allSatisfy({ $0.isASCII && $0.isNumber }) ? " (a bare number has no unit: write \(text)s for seconds)" : ""
            report(path, mark, "must be a duration: a number and a unit (ms, s, m, h, d) such as 500ms, 10s, 5m, 1h, 3d\(hint.map { ", \($0)" } ?? ""); \(String(reflecting: text)) is not one\(bare)")
            return nil
        }
        guard value >= minimum else {
            report(path, mark, "must be at least \(DurationText.format(minimum)), not \(text)")
            return nil
        }
        return value
    }

    /// Absolute paths as they are; `~/` from HOME; anything else relative to the configuration file's folder.
    func resolve(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        if path.hasPrefix("~/"), let home = environment["HOME"] { return URL(fileURLWithPath: home).appending(path: String(path.dropFirst(2))).standardizedFileURL.path }
        return URL(fileURLWithPath: baseDirectory).appending(path: path).standardizedFileURL.path
    }

    mutating func report(_ path: String, _ mark: Mark?, _ message: String) {
        problems.append(ConfigurationProblem(path: path, line: mark?.line, column: mark?.column, message: message))
    }

    mutating func warn(_ path: String, _ mark: Mark?, _ message: String) {
        warnings.append(ConfigurationProblem(path: path, line: mark?.line, column: mark?.column, message: message))
    }

    /// A file holding a secret that any user of the host may read (or change) is a leak waiting to happen. It still
    /// works, so it is a warning rather than a problem (docs/security.md, G11). Group access is left alone: the
    /// documented layout is `0640 root:mtsync`.
    mutating func warnIfOthersCanAccess(secretFile file: String, at path: String, _ mark: Mark?) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file),
              let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o006 != 0
        else { return }
        let access = mode & 0o002 != 0 ? "change" : "read"
        warn(path, mark, "\(file) holds a secret and every user of this host can \(access) it (mode \(String(mode & 0o777, radix: 8))): chmod 600 it, or 640 with mtsync's group")
    }
}

extension Node {
    var isNull: Bool {
        guard case .scalar(let scalar) = self else { return false }
        return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    var kindName: String {
        switch self {
        case .scalar: "a single value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }
}
