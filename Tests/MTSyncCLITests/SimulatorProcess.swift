import Foundation
import MTSyncStore
import MTSyncTestSupport

/// A real `mtbridge-sim` process serving a synthetic MT5 deal history (or MT4 trade history) on loopback.
struct SimulatorProcess {
    let process: Process
    let exit: ProcessExit
    let port: Int
    let platform: String
    /// The server id the bridge announces, and the one the configuration gives the server.
    let serverID: String
    let folder: URL
    let key = String(repeating: "3c", count: 32)
    static let keyID = "crash"

    /// Starts the simulator and waits for the line that says where it listens.
    /// - Parameter delayMilliseconds: the simulator waits this long before answering each request (a page), so a
    ///   sync of the history takes long enough for a test to act in the middle of it.
    static func start(
        platform: String = "mt5", serverID: String? = nil, days: Int, dealsPerDay: Int, seed: Int = 5, delayMilliseconds: Int? = nil,
        mutateAfterSeconds: Int? = nil
    ) throws -> SimulatorProcess {
        let folder = FileManager.default.temporaryDirectory.appending(path: "mtsync-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let serverID = serverID ?? "sim-\(platform)"
        let process = Process()
        process.executableURL = try CLI.binary().deletingLastPathComponent().appending(path: "mtbridge-sim")
        process.arguments = [
            "--port", "0", "--platform", platform, "--server-id", serverID, "--seed", String(seed), "--days", String(days),
            "--deals-per-day", String(dealsPerDay), "--key-id", keyID,
        ] + (delayMilliseconds.map { ["--delay-ms", String($0)] } ?? []) + (mutateAfterSeconds.map { ["--mutate-after", String($0)] } ?? [])
        process.environment = ["MTBRIDGE_KEY": String(repeating: "3c", count: 32)]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let exit = try process.runWatched()
        // Read until the line that says where it listens (a notice such as "now serving generation 1" may come first).
        var line = Data()
        while String(decoding: line, as: UTF8.self).range(of: #"127\.0\.0\.1:\d+\D"#, options: .regularExpression) == nil {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
              let port = Int(text[range].split(separator: ":").last ?? "") else {
            process.terminate()
            throw SimulatorStartFailed(output: text)
        }
        return SimulatorProcess(process: process, exit: exit, port: port, platform: platform, serverID: serverID, folder: folder)
    }

    /// `start` on a thread of its own, awaited: reading the port line blocks, and a blocked cooperative thread (two on
    /// this machine) delays every other test's continuations — timing checks elsewhere then fail.
    static func launch(
        platform: String = "mt5", serverID: String? = nil, days: Int, dealsPerDay: Int, seed: Int = 5, mutateAfterSeconds: Int? = nil
    ) async throws -> SimulatorProcess {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    try start(platform: platform, serverID: serverID, days: days, dealsPerDay: dealsPerDay, seed: seed, mutateAfterSeconds: mutateAfterSeconds)
                })
            }.start()
        }
    }

    struct SimulatorStartFailed: Error, CustomStringConvertible {
        let output: String
        var description: String { "mtbridge-sim did not start: \(output)" }
    }

    func stop() {
        process.terminate()
        exit.wait()
    }

    /// `stop`, awaited rather than blocking a cooperative thread.
    func stopped() async {
        process.terminate()
        await exit.wait()
    }

    /// A configuration with one server behind this simulator, small pages so a sync is many transactions.
    func writeConfig(databaseURL: String, pageSize: Int, ingest: String? = nil) throws -> URL {
        try SyncConfiguration(databaseURL: databaseURL, servers: [self], pageSize: pageSize, ingest: ingest).write(to: folder.appending(path: "mtsync.yaml"))
    }

    /// This simulator's entry under `servers:`.
    func serverEntry(pageSize: Int, pollInterval: String) -> String {
        """
          - id: \(serverID)
            platform: \(platform)
            time_zone: ny-close
            start: 2025-01-01
            lookback: 1h
            page_size: \(pageSize)
            poll_interval: \(pollInterval)
            bridge:
              address: 127.0.0.1:\(port)
              key_id: \(Self.keyID)
              key_env: MTSYNC_TEST_BRIDGE_KEY

        """
    }

    /// The environment the configuration's `key_env` reads the bridge key from.
    var environment: [String: String] { ["MTSYNC_TEST_BRIDGE_KEY": key] }

    /// The simulator's own ground truth, per login: deals (MT4: closed records that become facts), volume
    /// (lots × 10^8) and net in cents.
    /// Awaited, not blocked on: the simulator builds its whole history to answer, which takes a while.
    func groundTruth() async throws -> [String: [String: String]] {
        let process = Process()
        process.executableURL = self.process.executableURL
        process.arguments = (self.process.arguments ?? []) + ["--ground-truth"]
        let file = folder.appending(path: "ground-truth-\(UUID().uuidString).json")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: file) }
        let handle = try FileHandle(forWritingTo: file)
        process.standardOutput = handle
        await (try process.runWatched()).wait()
        try? handle.close()
        let data = try Data(contentsOf: file)
        let rows = try JSONSerialization.jsonObject(with: data) as? [[String: String]] ?? []
        return Dictionary(uniqueKeysWithValues: rows.map { ($0["login"] ?? "", $0) })
    }

    /// Per-login figures of the stored, not deleted facts in the simulator's ground-truth form. An MT4 trade is
    /// two facts (open and close leg) but one record: it counts once, its lots once (the close leg's).
    static func storedTruth(_ connection: PostgresConnection, server: String? = nil) async throws -> [String: [String: String]] {
        let rows = try await connection.query("""
            SELECT login::text, count(DISTINCT ticket)::text,
                   (coalesce(sum(lots) FILTER (WHERE leg <> 1), 0) * 100000000)::bigint::text, (sum(net) * 100)::bigint::text
            FROM trading_facts WHERE NOT deleted AND (\(server)::text IS NULL OR server_id = \(server))
              -- The closed history the ground truth covers: not an MT4 open trade's lone open leg.
              AND ticket NOT IN (SELECT ticket FROM trading_facts WHERE leg = 1 EXCEPT SELECT ticket FROM trading_facts WHERE leg = 2)
            GROUP BY login
            """)
        var truth: [String: [String: String]] = [:]
        for row in rows {
            let login = try row.decode(String.self, 0)
            truth[login] = ["login": login, "deals": try row.decode(String.self, 1), "volume_ext": try row.decode(String.self, 2), "net_cents": try row.decode(String.self, 3)]
        }
        return truth
    }
}

/// An mtsync configuration file for simulators: the database, this instance's name and lease, one server per
/// simulator.
struct SyncConfiguration {
    var databaseURL: String
    var servers: [SimulatorProcess]
    var instanceID = "crash-test"
    var leaseTTL = "2s"
    var pollInterval = "10s"
    var pageSize: Int
    /// An `ingest:` section, YAML at the top level, when the test relays.
    var ingest: String?

    func write(to url: URL) throws -> URL {
        let config = """
            database:
              url: \(databaseURL)
            instance:
              id: \(instanceID)
              lease_ttl: \(leaseTTL)
            servers:

            """ + servers.map { $0.serverEntry(pageSize: pageSize, pollInterval: pollInterval) }.joined() + (ingest.map { "\n" + $0 + "\n" } ?? "")
        try Data(config.utf8).write(to: url)
        return url
    }
}
