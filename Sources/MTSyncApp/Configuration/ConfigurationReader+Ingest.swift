import Foundation
import MTSyncCore
import MTSyncEngine
import Yams

extension ConfigurationReader {
    static let ingestKeys = ["sqs", "http", "relay", "aggregates"]
    static let aggregateKeys = ["grace", "every"]
    static let sqsKeys = ["queue_url", "region", "endpoint", "profile", "group_by", plainHTTPKey]
    static let httpKeys = ["url", "secret_env", "secret_file", "bearer_token_env", "bearer_token_file", "timeout", "max_message_bytes", plainHTTPKey]
    static let plainHTTPKey = "allow_plain_http"
    static let relayKeys = ["batch_size", "max_attempts", "claim_for", "idle_interval", "max_retry_delay", "keep_delivered"]

    mutating func readIngest(_ top: Mapping) -> IngestConfiguration?? {
        guard let node = top["ingest"], !node.isNull else { return .some(nil) }
        guard let section = mapping(node, path: "ingest", keys: Self.ingestKeys) else { return nil }
        let sqs = section["sqs"].flatMap { $0.isNull ? nil : $0 }
        let http = section["http"].flatMap { $0.isNull ? nil : $0 }
        var destination: IngestConfiguration.Destination?
        switch (sqs, http) {
        case (nil, nil):
            report("ingest", section.mark, "names no destination: give `sqs` (a queue URL) or `http` (an endpoint), or remove `ingest` to keep events in the outbox")
        case (.some, .some):
            report("ingest.http", section.keyMark("http"), "give one destination, `sqs` or `http`, not both")
        case (.some(let node), nil):
            destination = readSQS(node).map { .sqs($0) }
        case (nil, .some(let node)):
            destination = readHTTP(node).map { .http($0) }
        }
        var relay = RelaySettings()
        if let node = section["relay"], !node.isNull, let tuning = mapping(node, path: "ingest.relay", keys: Self.relayKeys) {
            if let value = wholeNumber(tuning, "batch_size", in: 1...50_000) { relay.batchSize = value }
            if let value = wholeNumber(tuning, "max_attempts", in: 1...1_000) { relay.maxAttempts = value }
            if tuning["claim_for"] != nil, let value = duration(tuning, "claim_for", minimum: .seconds(5)) { relay.claimFor = value }
            if tuning["idle_interval"] != nil, let value = duration(tuning, "idle_interval", minimum: .milliseconds(10)) { relay.idleInterval = value }
            if tuning["max_retry_delay"] != nil, let value = duration(tuning, "max_retry_delay", minimum: .milliseconds(100)) { relay.maximumRetryDelay = value }
            if let (text, _) = scalar(tuning, "keep_delivered"), text.lowercased() == "forever" {
                relay.keepDelivered = nil
            } else if tuning["keep_delivered"] != nil, let value = duration(tuning, "keep_delivered", minimum: .seconds(60)) {
                relay.keepDelivered = value
            }
        }
        var aggregates: AggregateSettings? = .builtIn
        if let node = section["aggregates"], !node.isNull {
            if case .scalar(let value) = node {
                if ["off", "false", "no"].contains(value.string.lowercased()) {
                    aggregates = nil
                } else {
                    report("ingest.aggregates", node.mark, "must be `off` or a mapping with grace (default 10m) and every (default 1m), not \(String(reflecting: value.string))")
                }
            } else if let map = mapping(node, path: "ingest.aggregates", keys: Self.aggregateKeys) {
                if map["grace"] != nil, let value = duration(map, "grace", minimum: .zero) { aggregates?.grace = value }
                if map["every"] != nil, let value = duration(map, "every", minimum: .seconds(1)) { aggregates?.every = value }
            }
        }
        guard let destination else { return nil }
        return IngestConfiguration(destination: destination, relay: relay, aggregates: aggregates)
    }

    mutating func readSQS(_ node: Node, path: String = "ingest.sqs") -> SQSDestination? {
        guard let section = mapping(node, path: path, keys: Self.sqsKeys) else { return nil }
        guard let (queueURL, mark) = required(section, "queue_url", hint: "the queue's URL, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/loyalty-data-ingest") else { return nil }
        guard let url = URL(string: queueURL), ["http", "https"].contains(url.scheme ?? ""), url.host != nil, url.path.count > 1 else {
            report("\(path).queue_url", mark, "must be a queue URL like https://sqs.<region>.amazonaws.com/<account>/<queue>, not \(String(reflecting: queueURL))")
            return nil
        }
        guard plainHTTPAllowed(url, in: section, key: "queue_url", mark: mark) else { return nil }
        var groupBy = "server_login"
        if let (text, mark) = scalar(section, "group_by") {
            guard ["server_login", "server"].contains(text) else {
                report("\(path).group_by", mark, "must be server_login (one FIFO group per trader, the default) or server (one per trade server)")
                return nil
            }
            groupBy = text
        }
        var endpoint: String?
        if let (text, mark) = scalar(section, "endpoint") {
            guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                report("\(path).endpoint", mark, "must be an http(s) URL such as http://127.0.0.1:5000 (for a local SQS), not \(String(reflecting: text))")
                return nil
            }
            guard plainHTTPAllowed(url, in: section, key: "endpoint", mark: mark) else { return nil }
            endpoint = text
        }
        return SQSDestination(queueURL: queueURL, region: scalar(section, "region")?.0, endpoint: endpoint, profile: scalar(section, "profile")?.0, groupBy: groupBy)
    }

    private mutating func readHTTP(_ node: Node) -> HTTPDestination? {
        guard let section = mapping(node, path: "ingest.http", keys: Self.httpKeys) else { return nil }
        var valid = true
        var endpoint: String?
        if let (text, mark) = required(section, "url", hint: "the ingest endpoint, e.g. https://ingest.example.com/v1/trading-facts") {
            if let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil {
                if plainHTTPAllowed(url, in: section, key: "url", mark: mark) { endpoint = text } else { valid = false }
            } else {
                report("ingest.http.url", mark, "must be an http(s) URL, not \(String(reflecting: text))")
                valid = false
            }
        }
        let secret = readTextSecret(section, name: "secret", what: "the HMAC key that signs each request", required: true).flatMap { $0 }
        let token = readTextSecret(section, name: "bearer_token", what: "the bearer token", required: false)
        var timeout: Duration = .seconds(15)
        if section["timeout"] != nil { if let value = duration(section, "timeout", minimum: .milliseconds(100)) { timeout = value } else { valid = false } }
        var maximum = 1 << 20
        if section["max_message_bytes"] != nil { if let value = wholeNumber(section, "max_message_bytes", in: 1_024...(64 << 20)) { maximum = value } else { valid = false } }
        guard valid, let endpoint, let secret, let token else { return nil }
        return HTTPDestination(url: endpoint, secret: secret, bearerToken: token, timeout: timeout, maximumMessageBytes: maximum)
    }

    /// `<name>_env` or `<name>_file`; the outer optional is nil on a problem, the inner when an optional secret is absent.
    mutating func readTextSecret(_ section: Mapping, name: String, what: String, required: Bool) -> TextSecret?? {
        let file = scalar(section, "\(name)_file"), variable = scalar(section, "\(name)_env")
        let path = "\(section.path).\(name)"
        switch (file, variable) {
        case (nil, nil):
            if required {
                report("\(path)_env", section.mark, "\(what) is missing: set \(name)_env (an environment variable holding it) or \(name)_file (a file holding it); never the value itself")
                return nil
            }
            return .some(nil)
        case (.some, .some(let (_, mark))):
            report("\(path)_env", mark, "set only one of \(name)_file and \(name)_env")
            return nil
        case (.some(let (text, mark)), nil):
            let resolved = resolve(text)
            guard FileAccess.problem(at: resolved, wanted: .file) == nil, let data = FileManager.default.contents(atPath: resolved) else {
                report("\(path)_file", mark, "cannot read \(what) from \(resolved): \(FileAccess.reason(for: resolved, wanted: .file)); check the path and its permissions")
                return nil
            }
            let value = String(decoding: data, as: UTF8.self).trimmingASCIIWhitespace()
            guard !value.isEmpty else {
                report("\(path)_file", mark, "the file \(resolved) is empty: put \(what) in it")
                return nil
            }
            warnIfOthersCanAccess(secretFile: resolved, at: "\(path)_file", mark)
            return .some(TextSecret(value))
        case (nil, .some(let (variableName, mark))):
            guard let value = environment[variableName]?.trimmingASCIIWhitespace(), !value.isEmpty else {
                report("\(path)_env", mark, "the environment variable \(variableName) is not set or empty: export \(what) in it before starting mtsync")
                return nil
            }
            return .some(TextSecret(value))
        }
    }

    mutating func wholeNumber(_ section: Mapping, _ key: String, in range: ClosedRange<Int>) -> Int? {
        guard let (text, mark) = scalar(section, key) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            report(section.child(key), mark, "must be a whole number from \(range.lowerBound) to \(range.upperBound), not \(String(reflecting: text))")
            return nil
        }
        return value
    }

    /// `http://` only to this host itself (a local SQS, a test ingest) unless the section sets `allow_plain_http:
    /// true`: to anywhere else the bearer token, the API key, signed requests and traders' data would cross the
    /// network unencrypted (docs/security.md, G8). Reports and returns false when refused.
    mutating func plainHTTPAllowed(_ url: URL, in section: Mapping, key: String, mark: Mark?) -> Bool {
        guard url.scheme?.lowercased() == "http", let host = url.host, !LoopbackHost.contains(host) else { return true }
        if let (text, flagMark) = scalar(section, Self.plainHTTPKey) {
            switch text.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": break
            default:
                report(section.child(Self.plainHTTPKey), flagMark, "must be true or false, not \(String(reflecting: text))")
                return false
            }
        }
        report(
            section.child(key), mark,
            "is plain http:// to \(host): requests, their credentials and traders' data would cross the network unencrypted; use https://, or set \(Self.plainHTTPKey): true in this section if the network between is private and trusted")
        return false
    }
}
