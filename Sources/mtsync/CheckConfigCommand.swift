import ArgumentParser
import Foundation
import MTSyncApp

/// `mtsync check-config FILE`: validates a configuration file the way the daemon reads it at start-up (key
/// files and variables read, TLS and rules files checked), so a bad file is caught before a deploy.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file: every problem with its location, or a summary of each server.",
        discussion: """
            Reads the file as the daemon would, including bridge keys (from key_file or key_env; never printed), \
            TLS and rules files, and $MTSYNC_DATABASE_URL. Exit status 0 when the file is valid, 78 when it is \
            not (each problem is listed as `location: message`). See docs/configuration.md.
            """
    )

    @Argument(help: "The configuration file (YAML).") var file: String
    @Flag(help: "Print a JSON report instead of text.") var json = false

    struct ServerSummary: Encodable {
        var id: String
        var platform: String
        var source: String
        var address: String?
        var tls: Bool?
        var keyId: String?
        var dropFolder: String?
        var dropMaxFileBytes: Int64?
        var timeZone: String
        var pollInterval: String
        var lookback: String
        var pageSize: Int
        var reconcileEvery: String?
        var summary: String
    }

    struct Valid: Encodable {
        var ok = true
        var database: String?
        var instanceId: String
        var leaseTtl: String
        var servers: [ServerSummary]
        var warnings: [ProblemEntry]
    }

    struct ProblemEntry: Encodable {
        var location: String
        var path: String
        var line: Int?
        var column: Int?
        var message: String
    }

    struct Invalid: Encodable {
        var ok = false
        var error: [String: String]
        var problems: [ProblemEntry]
    }

    func run() throws {
        let configuration: MTSyncConfiguration
        do {
            configuration = try MTSyncConfiguration.load(path: file)
        } catch {
            report(error)
            throw ExitCode(CommandFailure.Status.configuration.rawValue)
        }
        if json {
            JSONOutput.print(Valid(
                database: configuration.databaseURL?.description, instanceId: configuration.instanceID,
                leaseTtl: DurationText.format(configuration.leaseTTL), servers: configuration.servers.map(Self.summary),
                warnings: configuration.warnings.map { ProblemEntry(location: $0.location, path: $0.path, line: $0.line, column: $0.column, message: $0.message) }
            ))
        } else {
            // Warnings go to stderr: the summary on stdout stays the same shape for scripts.
            for warning in configuration.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
            print("ok: \(configuration.servers.count) server(s)")
            for server in configuration.servers { print("  \(server.summary)") }
            print("  ingest: \(Self.ingestSummary(configuration.ingest))")
            print("  feed: \(Self.feedSummary(configuration.feed))")
            print("  monitoring: \(configuration.monitoring.map { "/metrics /healthz /readyz on \($0.host):\($0.port), database gauges every \(DurationText.format($0.refresh))" } ?? "off")")
            let levels = configuration.logging.subsystemLevels.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            print("  logging: \(configuration.logging.format), \(configuration.logging.level)\(levels.isEmpty ? "" : " (\(levels.joined(separator: ", ")))")")
        }
    }

    /// Where the relay delivers, without any secret (the HMAC secret and token are named, never shown).
    /// Never prints the API key: only whether the file ingest is configured.
    static func feedSummary(_ feed: FeedConfiguration?) -> String {
        guard let feed else { return "off" }
        let centCodes = feed.settings.rules.centCurrencies.sorted { $0.key < $1.key }.map { "\($0.key)→\($0.value)" }.joined(separator: ",")
        let cent = feed.settings.rules.centGroups.isEmpty ? "no cent groups" : "cent groups \(feed.settings.rules.centGroups.joined(separator: ",")) × \(feed.settings.rules.centFactor) (\(centCodes))"
        let rates = feed.settings.rules.rates.isEmpty ? "no rates" : "rates for \(feed.settings.rules.rates.keys.sorted().joined(separator: ","))"
        let files = feed.fileIngest.map { "file ingest above \($0.aboveRows) rows" } ?? "no file ingest"
        let sqs = "SQS \(feed.sqs.queueURL) via \(feed.sqs.effectiveEndpoint(environment: ProcessInfo.processInfo.environment))"
        let upload = feed.fileIngest.map { ", uploads to \(Self.shown($0.url))" } ?? ""
        return "daily rows, trigger \(feed.triggerID), day \(feed.settings.day), \(feed.settings.rules.reportingCurrency), \(cent), \(rates), \(sqs), \(files)\(upload), every \(DurationText.format(feed.every))"
    }

    /// Scheme, host, port and path only: a query or user info may carry a credential.
    static func shown(_ url: String) -> String {
        URL(string: url).map { "\($0.scheme ?? "")://\($0.host ?? "")\($0.port.map { ":\($0)" } ?? "")\($0.path)" } ?? "(an unparseable URL)"
    }

    static func ingestSummary(_ ingest: IngestConfiguration?) -> String {
        guard let ingest else { return "none (events stay in the outbox)" }
        let destination: String
        switch ingest.destination {
        case .sqs(let sqs):
            destination = "SQS \(sqs.queueURL) via \(sqs.effectiveEndpoint(environment: ProcessInfo.processInfo.environment))\(sqs.region.map { ", region \($0)" } ?? ""), FIFO groups by \(sqs.groupBy)"
        case .http(let http):
            destination = "HTTP \(shown(http.url)), signed (secret set)\(http.bearerToken == nil ? "" : ", bearer token set"), timeout \(DurationText.format(http.timeout))"
        }
        let relay = "relay batches of \(ingest.relay.batchSize), \(ingest.relay.maxAttempts) attempts, claims \(DurationText.format(ingest.relay.claimFor))"
        let aggregates = ingest.aggregates.map { "aggregates after \(DurationText.format($0.grace)) grace" } ?? "aggregates off"
        return "\(destination); \(relay); \(aggregates)"
    }

    private func report(_ errors: ConfigurationErrors) {
        if json {
            let count = errors.problems.count
            JSONOutput.print(Invalid(
                error: ["kind": "configuration_invalid", "message": "\(errors.file) has \(count) problem(s)"],
                problems: errors.problems.map { ProblemEntry(location: $0.location, path: $0.path, line: $0.line, column: $0.column, message: $0.message) }
            ))
        } else {
            for problem in errors.problems { print("\(problem.location): \(problem.message)") }
            FileHandle.standardError.write(Data("mtsync: error: \(errors.file) has \(errors.problems.count) problem(s); the daemon will not start with it\n".utf8))
        }
    }

    private static func summary(_ server: ServerConfiguration) -> ServerSummary {
        var entry = ServerSummary(
            id: server.id.rawValue, platform: server.platform.rawValue, source: "", timeZone: server.zoneName,
            pollInterval: DurationText.format(server.pollInterval), lookback: DurationText.format(server.sync.lookback),
            pageSize: server.sync.pageSize, reconcileEvery: server.reconcileEvery.map(DurationText.format), summary: server.summary
        )
        switch server.source {
        case .bridge(let bridge):
            entry.source = "bridge"
            entry.address = bridge.address
            entry.tls = bridge.tls != nil
            entry.keyId = bridge.keyID
        case .drop(let drop):
            entry.source = "drop"
            entry.dropFolder = drop.folder
            entry.dropMaxFileBytes = drop.maxFileBytes
        }
        return entry
    }
}
