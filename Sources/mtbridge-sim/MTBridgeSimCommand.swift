import ArgumentParser
import Foundation
import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore

/// mtbridge-sim: the reference export bridge, serving a deterministic synthetic MT5 deal history (or, with
/// `--platform mt4`, MT4 trade records) over the mtbridge protocol (bridge-protocol/README.md), with fault knobs
/// for tests.
@main
struct MTBridgeSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mtbridge-sim",
        abstract: "Serve a deterministic synthetic MT5 deal history or MT4 trade history over the mtbridge protocol (for demos and tests)."
    )

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port; the chosen port is printed).") var port = 7465
    @Option(help: "Seed of the synthetic dataset.") var seed: UInt64 = 1
    @Option(help: "Platform of the simulated trade server: mt5 (serves deals) or mt4 (serves trades).") var platform: Platform = .mt5
    @Option(name: .customLong("server-id"), help: "Server id the bridge announces (default: sim-mt5 or sim-mt4).") var serverIDOption: String?
    @Option(help: "First day of the history, YYYY-MM-DD (server time).") var from = "2025-01-01"
    @Option(help: "Number of days of history.") var days = 7
    @Option(name: .customLong("deals-per-day"), help: "Deals per day (about); MT4: history records closed per day.") var dealsPerDay = 200
    @Option(help: "Number of trading logins (every fifth is a demo account, some are cent accounts in USC, every thirteenth has no client_id).") var logins = 20
    @Flag(help: "Accounts that arrive after their deals: every sixth login's account is served only from generation 1 (see --mutate-after).") var lateAccounts = false
    @Flag(help: "A demo → real move: every other demo account is served in the group real\\moved from generation 1, with updated_ms at the middle of the range.") var groupMoves = false
    @Option(name: .customLong("key-id"), help: "Key id clients authenticate with.") var keyID = "mtsync-1"
    @Option(name: .customLong("key-file"), help: "File holding the shared key as hex (at least 64 hex digits). Default: $MTBRIDGE_KEY.") var keyFile: String?
    @Option(name: .customLong("drop-after"), help: "Fault: close each connection after this many records.") var dropAfter: Int?
    @Option(name: .customLong("malformed-after"), help: "Fault: send one non-JSON line after this many records.") var malformedAfter: Int?
    @Option(name: .customLong("oversize-after"), help: "Fault: send one line over 1 MiB after this many records.") var oversizeAfter: Int?
    @Option(name: .customLong("delay-ms"), help: "Fault: wait this long before answering each request.") var delayMilliseconds: Int?
    @Option(name: .customLong("unavailable"), help: "Fault: answer this many requests with mt_unavailable first.") var unavailable = 0
    @Option(help: "Misbehave like a broken bridge, for the hostile-bridge suite: \(Misbehaviour.allCases.map(\.rawValue).joined(separator: ", ")).") var misbehave: Misbehaviour?
    @Option(name: .customLong("tls-cert"), help: "Serve over TLS with this PEM certificate chain (with --tls-key).") var tlsCertificate: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert.") var tlsKey: String?
    @Option(name: .customLong("tls-client-ca"), help: "Require client certificates signed by this PEM CA (mutual TLS).") var tlsClientCA: String?
    @Flag(help: "Live: serve the history only as far as the server's clock has reached, so deals appear as their time passes (with --from today: scripts/bench-latency). Digests still count whole buckets.") var live = false
    @Option(name: .customLong("mutate-after"), help: "After this many seconds, serve generation 1: dealer edits, deletions and late deals.") var mutateAfter: Int?
    @Flag(name: .customLong("ground-truth"), help: "Print the dataset's per-login counts, volume and net as JSON, then exit.") var groundTruth = false
    @Flag(name: .customLong("daily-truth"), help: "Print the accounts and, per login and server day, closed volume, deposits and withdrawals, the closing balance and credit, the open volume and the trades as JSON (the loyalty feed's and tier snapshots' ground truth), then exit.") var dailyTruth = false
    @Option(help: "With --ground-truth, --daily-truth or --write-drop: the generation (0 original, 1 after edits, deletions and late deals).") var generation = 0
    @Option(name: .customLong("write-drop"), help: "Publish the dataset as a CSV drop under this folder (<folder>/<server>/incoming/, one file a day, bridge-protocol/README.md §7), then exit.") var writeDrop: String?
    @Option(name: .customLong("drop-files"), help: "With --write-drop: which files to publish, comma-separated: accounts, history (deals or trades, one file a day), daily (one file a day).") var dropFiles = "accounts,history"

    var serverID: String { serverIDOption ?? "sim-\(platform.rawValue)" }

    func run() async throws {
        guard let firstDay = CivilDate.days(parsing: from) else {
            throw ValidationError("--from must be YYYY-MM-DD")
        }
        guard !(groundTruth && dailyTruth) else { throw ValidationError("give --ground-truth or --daily-truth, not both") }
        let dataset = SimulatedDataset(.init(
            seed: seed, serverID: serverID, firstDay: firstDay, days: days, dealsPerDay: dealsPerDay, logins: logins, platform: platform,
            lateAccounts: lateAccounts, groupMoves: groupMoves))
        if groundTruth {
            let truth = dataset.groundTruth(generation: generation).sorted { $0.key < $1.key }.map { login, figures in
                ["login": String(login), "deals": String(figures.deals), "volume_ext": String(figures.volumeExt), "net_cents": String(figures.netCents)]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            FileHandle.standardOutput.write(try encoder.encode(truth) + Data("\n".utf8))
            return
        }
        if dailyTruth {
            FileHandle.standardOutput.write(Data(Self.dailyTruthJSON(dataset, generation: generation).utf8))
            return
        }
        if let writeDrop {
            let files = Set(dropFiles.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            guard !files.isEmpty, files.isSubset(of: ["accounts", "history", "daily"]) else {
                throw ValidationError("--drop-files takes accounts, history and daily, comma-separated")
            }
            let writer = DropFolderWriter(root: writeDrop)
            var names: [String] = []
            if files.contains("history") {
                names = try writer.publish(dataset, generation: generation, accounts: files.contains("accounts"), daily: files.contains("daily"))
            } else {
                if files.contains("accounts") { names.append(try writer.publishAccounts(dataset, generation: generation)) }
                if files.contains("daily") { names += try writer.publishDaily(dataset, generation: generation) }
            }
            for name in names { print("published \(writeDrop)/\(serverID)/incoming/\(name)") }
            return
        }
        let hex: String
        if let keyFile {
            hex = try String(contentsOfFile: keyFile, encoding: .utf8)
        } else if let fromEnvironment = ProcessInfo.processInfo.environment["MTBRIDGE_KEY"] {
            hex = fromEnvironment
        } else {
            throw ValidationError("give the shared key with --key-file FILE or the MTBRIDGE_KEY environment variable (never on the command line)")
        }
        let key = try BridgeKey(id: keyID, hex: hex)
        var faults = SimulatorFaults(
            dropConnectionAfterRecords: dropAfter, malformedLineAfterRecords: malformedAfter, oversizeLineAfterRecords: oversizeAfter,
            delayPerRequest: delayMilliseconds.map { .milliseconds($0) }, unavailableRequests: unavailable)
        faults.misbehaviour = misbehave
        faults.leakedSecret = hex.trimmingCharacters(in: .whitespacesAndNewlines)
        var tls: ServerTLS?
        if let tlsCertificate {
            guard let tlsKey else { throw ValidationError("--tls-cert needs --tls-key") }
            tls = ServerTLS(certificateFile: tlsCertificate, keyFile: tlsKey, clientCAFile: tlsClientCA)
        }
        let simulator = BridgeSimulator(dataset: dataset, key: key, faults: faults, tls: tls, live: live)
        try await withThrowingDiscardingTaskGroup { group in
            if let mutateAfter {
                group.addTask {
                    try await Task.sleep(for: .seconds(mutateAfter))
                    simulator.setGeneration(1)
                    FileHandle.standardOutput.write(Data("mtbridge-sim: now serving generation 1 (edits, deletions, late deals)\n".utf8))
                }
            }
            group.addTask { try await self.serve(simulator) }
        }
    }

    private func serve(_ simulator: BridgeSimulator) async throws {
        try await simulator.run(host: host, port: port) { port in
            // Written unbuffered: scripts wait for this line to learn the port.
            FileHandle.standardOutput.write(Data("mtbridge-sim listening on \(host):\(port) — server \(serverID), \(days) days from \(from), ~\(dealsPerDay) deals/day, key id \(keyID)\n".utf8))
        }
    }

    /// `{"server","platform","accounts":[…],"days":[…]}`, one account or day per line; days sorted by (date,
    /// login), dates the server-time day; an unmapped account has no `client_id`.
    static func dailyTruthJSON(_ dataset: SimulatedDataset, generation: Int) -> String {
        func line(_ value: JSONValue) -> String { String(decoding: value.serialized(), as: UTF8.self) }
        let accounts = dataset.accounts.map { account in
            var members: [(String, JSONValue)] = [("login", .integer(account.login)), ("group", .string(account.group)), ("currency", .string(account.currency))]
            if let clientID = account.clientID { members.append(("client_id", .string(clientID))) }
            return line(.object(members))
        }
        // Every account's every day has a state; the feed's figures and the positions where it had activity.
        let feed = dataset.dailyTruth(generation: generation), states = dataset.dailyStates(generation: generation)
        let positions = dataset.positionTruth(generation: generation)
        let days = Set(feed.keys).union(states.keys).sorted().map { key in
            let truth = feed[key] ?? SimulatedDataset.DailyTruth(), state = states[key] ?? SimulatedDataset.DailyState(), position = positions[key] ?? .init()
            return line(.object([
                ("login", .integer(key.login)), ("date", .string(key.date)), ("closed_volume_ext", .integer(truth.closedVolumeExt)),
                ("deposit_cents", .integer(truth.depositCents)), ("withdrawal_cents", .integer(truth.withdrawalCents)),
                ("closing_deals", .integer(truth.closingDeals)), ("balance_cents", .integer(state.balanceCents)),
                ("credit_cents", .integer(state.creditCents)), ("open_volume_ext", .integer(position.openVolumeExt)), ("trades", .integer(position.trades)),
            ]))
        }
        let head = "{\"server\":\(line(.string(dataset.configuration.serverID))),\"platform\":\(line(.string(dataset.configuration.platform.rawValue))),\n"
        func list(_ rows: [String]) -> String { rows.isEmpty ? "[]" : "[\n  " + rows.joined(separator: ",\n  ") + "\n]" }
        return head + "\"accounts\":" + list(accounts) + ",\n\"days\":" + list(days) + "}\n"
    }
}

extension Platform: ExpressibleByArgument {}

extension Misbehaviour: ExpressibleByArgument {}
