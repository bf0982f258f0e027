import ArgumentParser
import Foundation
import MTSyncBridge
import MTSyncCore

/// `mtsync bridge …`: the export bridge (bridge-protocol/README.md).
struct BridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "Talk to an export bridge.",
        subcommands: [BridgeCheckCommand.self]
    )
}

/// Connects to a bridge and checks it against the spec on a range (see `BridgeConformanceCheck`).
struct BridgeCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a bridge against bridge-protocol/README.md: handshake, server.info, order and bounds of every record in a range, digests, accounts, symbols.",
        discussion: """
            The shared key is read from --key-file or $MTSYNC_BRIDGE_KEY (64+ hex digits), never from the command \
            line. Exit status: 0 the bridge conforms on the range; 65 it disagrees with the spec (each problem \
            is listed); 69 it cannot be reached or refused the handshake; 78 bad options or key.
            """
    )

    @Option(help: "The bridge's address, host:port.") var address: String
    @Option(name: .customLong("key-id"), help: "The key id mtsync authenticates with.") var keyID: String
    @Option(name: .customLong("key-file"), help: "File holding the shared key as hex. Default: $MTSYNC_BRIDGE_KEY.") var keyFile: String?
    @Option(help: "Range start, server time: YYYY-MM-DD or YYYY-MM-DDTHH:MM (default: the last whole server day).") var from: String?
    @Option(help: "Range end (exclusive), server time, same forms.") var to: String?
    @Option(name: .customLong("tls-ca"), help: "Connect over TLS, trusting this PEM CA file.") var tlsCA: String?
    @Option(name: .customLong("tls-cert"), help: "PEM client certificate for bridges that require one (with --tls-key).") var tlsCertificate: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert.") var tlsKey: String?
    @Option(name: .customLong("tls-server-name"), help: "The name the bridge's certificate must carry (default: the host).") var tlsServerName: String?
    @Option(help: "Records per page.") var pageSize = 1_000
    @Option(name: .customLong("time-zone"), help: "The server's zone as mtsync is configured (IANA name, ±HH:MM, UTC or ny-close): warn when the bridge's rule or the server's clock disagree.") var timeZone: String?
    @Flag(help: "Print a JSON report instead of text.") var json = false

    func run() async throws {
        let endpoint: BridgeEndpoint
        let range: (Int64?, Int64?)
        var configuredZone: ServerTimeZone?
        do {
            if let timeZone {
                guard let zone = ServerTimeZone(timeZone) else { throw ValidationError("--time-zone \(String(reflecting: timeZone)) is not an IANA zone name, ±HH:MM, UTC or ny-close") }
                configuredZone = zone
            }
            endpoint = try makeEndpoint()
            range = (try from.map(ServerTimeArgument.milliseconds), try to.map(ServerTimeArgument.milliseconds))
        } catch {
            if json { JSONOutput.print(["error": ["kind": "configuration", "message": "\(error)"]]) }
            else { FileHandle.standardError.write(Data("mtsync: error: \(error)\n".utf8)) }
            throw ExitCode(CommandFailure.Status.configuration.rawValue)
        }
        // Three attempts: enough to ride out a blip, short enough for a person waiting at a terminal.
        let client = BridgeClient(endpoint: endpoint, retryPolicy: .init(baseDelay: .milliseconds(500), maximumDelay: .seconds(5), maximumAttempts: 3))
        let report: BridgeConformanceCheck.Report
        do {
            report = try await BridgeConformanceCheck(client: client, pageSize: pageSize, configuredZone: configuredZone).run(fromMilliseconds: range.0, toMilliseconds: range.1)
        } catch let error as BridgeClientError {
            if json { JSONOutput.print(["error": ["kind": "bridge_unavailable", "message": error.description]]) }
            else { FileHandle.standardError.write(Data("mtsync: error: \(error)\n".utf8)) }
            throw ExitCode(CommandFailure.Status.databaseUnavailable.rawValue)
        }
        if json {
            JSONOutput.print(report)
        } else {
            print("bridge \(report.endpoint): server \(report.serverID ?? "?"), \(report.platform ?? "?"), capabilities \(report.capabilities.joined(separator: ", "))")
            print("  zone rule \(report.timeZoneRule ?? "?"), server clock \(report.serverClockOffsetMinutes.map { "UTC\($0 >= 0 ? "+" : "")\($0) min" } ?? "?")")
            print("  range [\(report.fromMilliseconds), \(report.toMilliseconds)) server ms: \(report.records) record(s) in \(report.pages) page(s)")
            if report.digestBuckets > 0 { print("  digest: \(report.digestBucketsMatching) of \(report.digestBuckets) hour buckets match the records") }
            if let accounts = report.accounts { print("  accounts: \(accounts), \(report.accountsWithoutClientID ?? 0) without a client_id") }
            if let symbols = report.symbols { print("  symbols: \(symbols)") }
            print(report.conforms ? "conforms" : "\(report.problems.count) problem(s):")
            for problem in report.problems { print("  - \(problem)") }
            for warning in report.warnings { print("  warning: \(warning)") }
        }
        if !report.conforms { throw ExitCode(CommandFailure.Status.dataError.rawValue) }
    }

    private func makeEndpoint() throws -> BridgeEndpoint {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65_535).contains(port) else {
            throw ValidationError("--address must be host:port")
        }
        let host = String(address[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let hex: String
        if let keyFile {
            hex = try String(contentsOfFile: keyFile, encoding: .utf8)
        } else if let environment = ProcessInfo.processInfo.environment["MTSYNC_BRIDGE_KEY"], !environment.isEmpty {
            hex = environment
        } else {
            throw ValidationError("give the shared key with --key-file FILE or $MTSYNC_BRIDGE_KEY (never on the command line)")
        }
        var tls: BridgeTLS?
        if tlsCA != nil || tlsCertificate != nil {
            guard (tlsCertificate == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
            tls = BridgeTLS(caFile: tlsCA, clientCertificateFile: tlsCertificate, clientKeyFile: tlsKey, serverName: tlsServerName)
        }
        return BridgeEndpoint(host: host, port: port, key: try BridgeKey(id: keyID, hex: hex), tls: tls)
    }
}
