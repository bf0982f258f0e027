import AsyncHTTPClient
import Foundation
import MTSyncStore
import MTSyncTestSupport
import NIOCore
import Testing

/// What an operator's monitoring sees of a real `mtsync run`: /metrics read by Prometheus' own text parser
/// (`prometheus_client`, from PyPI) and compared with the store, /healthz and /readyz, and the log lines.
@Suite("Running it in production: /metrics, /healthz, /readyz and the log lines of a real daemon")
struct MonitoringCLITests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The metrics of one scrape, as the Prometheus client library parsed them.
    struct Scrape {
        struct Family: Decodable {
            let name: String
            let type: String
            let help: String
            let samples: [Sample]
        }

        struct Sample: Decodable {
            let name: String
            let labels: [String: String]
            let value: Double
        }

        let families: [Family]
        let text: String

        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            families.lazy.flatMap(\.samples).first { $0.name == name && $0.labels == labels }?.value
        }
    }

    static func parse(_ text: String) async throws -> Scrape {
        let file = FileManager.default.temporaryDirectory.appending(path: "metrics-\(UUID().uuidString).txt")
        try Data(text.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let parser = repositoryRoot.appending(path: "scripts/fixtures/parse-metrics.py").path
        // python3 from PATH: the one scripts/install-deps installed prometheus_client for.
        let parsed = try await CLI.launch(["python3", parser, file.path], executable: URL(fileURLWithPath: "/usr/bin/env"))
        guard parsed.status == 0 else {
            throw ParseFailed(description: "prometheus_client could not parse /metrics (pip install prometheus_client; scripts/test installs it): \(parsed.stderr)\n\(text)")
        }
        struct Output: Decodable { let families: [Scrape.Family] }
        return Scrape(families: try JSONDecoder().decode(Output.self, from: Data(parsed.stdout.utf8)).families, text: text)
    }

    struct ParseFailed: Error, CustomStringConvertible { let description: String }

    static func get(_ url: String, _ httpClient: HTTPClient) async throws -> (status: Int, body: String) {
        let response = try await httpClient.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    /// The port the daemon's monitoring server bound (`listen: 127.0.0.1:0`), from its log line.
    static func monitoringPort(of daemon: DaemonProcess) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let log = (try? String(contentsOf: daemon.log, encoding: .utf8)) ?? ""
            for line in log.split(separator: "\n") where line.contains("monitoring endpoints listening") {
                if let range = line.range(of: #"127\.0\.0\.1:[0-9]+"#, options: .regularExpression), let port = Int(line[range].split(separator: ":")[1]) {
                    return port
                }
            }
            if !daemon.isRunning { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ParseFailed(description: "the daemon did not say where it listens: \(daemon.logTail(lines: 40))")
    }

    static func withHTTPClient(_ body: (HTTPClient) async throws -> Void) async throws {
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await body(httpClient)
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
    }

    @Test("mtsync run: /metrics parses with Prometheus' own parser and counts what the store holds; /healthz and /readyz answer; every log line is one JSON object")
    func daemonMonitored() async throws {
        try await Self.withHTTPClient { httpClient in
            let sqs = try LocalSQS.client(httpClient)
            let queueURL = try await LocalSQS.createQueue(LocalSQS.uniqueName("monitored"), client: sqs)
            let simulator = try await SimulatorProcess.launch(platform: "mt5", days: 1, dealsPerDay: 300, seed: 61)
            let database = try await TestDatabase.create()
            #expect(try await CLI.launch(["migrate", "--database-url", database.url]).status == 0)
            let config = try simulator.writeConfig(
                databaseURL: database.url, pageSize: 100,
                ingest: RelayCLITests.sqsIngest(queueURL: queueURL, endpoint: try LocalSQS.endpoint()) + """

                    monitoring:
                      listen: 127.0.0.1:0
                      refresh: 1s
                    logging:
                      format: json
                    """)
            let daemon = try DaemonProcess(config: config, environment: simulator.environment.merging(LocalSQS.processEnvironment) { $1 })
            do {
                let base = "http://127.0.0.1:\(try await Self.monitoringPort(of: daemon))"
                let connection = try await database.connect()
                let server = simulator.serverID
                // Until the store, the relay and the gauges read from the database all agree that everything went out.
                var scrape: Scrape?
                var facts = 0, delivered = 0
                var settledAt: Date?
                let deadline = ContinuousClock.now + .seconds(90)
                while ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(500))
                    facts = try await connection.query("SELECT count(*) FROM trading_facts")[0].decode(Int.self, 0)
                    delivered = try await connection.query("SELECT count(*) FROM outbox_delivered")[0].decode(Int.self, 0)
                    let pending = try await connection.query("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")[0].decode(Int.self, 0)
                    if facts >= 300, pending == 0, settledAt == nil { settledAt = Date() }
                    let current = try await Self.parse(try await Self.get(base + "/metrics", httpClient).body)
                    scrape = current
                    // The database gauges count once read after everything settled (an earlier read saw an empty outbox too).
                    if let settledAt, (current.value("mtsync_store_refreshed_timestamp_seconds") ?? 0) > settledAt.timeIntervalSince1970,
                       current.value("mtsync_relay_events_delivered_total", ["sink": "sqs"]) == Double(delivered),
                       current.value("mtsync_outbox_pending_events", ["server": server]) == 0,
                       current.value("mtsync_facts_synced_total", ["server": server, "stream": "deals", "kind": "inserted"]) == Double(facts) {
                        break
                    }
                }
                let metrics = try #require(scrape)
                #expect(metrics.value("mtsync_facts_synced_total", ["server": server, "stream": "deals", "kind": "inserted"]) == Double(facts), "\(metrics.text)")
                #expect(metrics.value("mtsync_facts_synced_total", ["server": server, "stream": "deals", "kind": "updated"]) == 0, "primed at 0")
                #expect(metrics.value("mtsync_records_quarantined_total", ["server": server, "stream": "deals"]) == 0)
                #expect(metrics.value("mtsync_relay_events_delivered_total", ["sink": "sqs"]) == Double(delivered))
                #expect(metrics.value("mtsync_relay_dead_letters_total", ["sink": "sqs"]) == 0)
                #expect(metrics.value("mtsync_outbox_pending_events", ["server": server]) == 0)
                #expect(metrics.value("mtsync_lease_held", ["server": server]) == 1)
                #expect((metrics.value("mtsync_sync_runs_total", ["server": server, "outcome": "ok"]) ?? 0) >= 1)
                #expect(metrics.value("mtsync_cursor_lag_seconds", ["server": server, "stream": "deals"]) != nil)
                #expect(metrics.value("mtsync_build_info", ["version": "0.1.0"]) == 1)
                let pages = try #require(metrics.value("mtsync_page_duration_seconds_count", ["server": server, "stream": "deals", "phase": "store"]))
                #expect(pages >= 3)

                // The names and types are the catalogue's, every family has its help, and no label names a login.
                let catalogue = try String(contentsOf: Self.repositoryRoot.appending(path: "docs/operations.md"), encoding: .utf8)
                for family in metrics.families where family.name.hasPrefix("mtsync_") {
                    let documented = family.type == "counter" ? family.name + "_total" : family.name
                    #expect(catalogue.contains("`\(documented)`"), "\(documented) is exposed but not documented in docs/operations.md")
                    #expect(!family.help.isEmpty, "\(family.name) has no HELP")
                    for sample in family.samples { #expect(!sample.labels.keys.contains { $0.contains("login") }) }
                }

                let health = try await Self.get(base + "/healthz", httpClient)
                #expect(health.status == 200 && health.body.contains(#""status":"alive""#))
                let ready = try await Self.get(base + "/readyz", httpClient)
                #expect(ready.status == 200, "\(ready.body)")
                let readiness = try #require(try JSONSerialization.jsonObject(with: Data(ready.body.utf8)) as? [String: Any])
                #expect(readiness["ready"] as? Bool == true)
                let checks = (readiness["checks"] as? [[String: Any]]) ?? []
                #expect(checks.compactMap { $0["name"] as? String } == ["database", "migrations", "leases"])
                #expect(checks.allSatisfy { $0["ok"] as? Bool == true })
                #expect(try await Self.get(base + "/nothing-here", httpClient).status == 404)

                #expect(await daemon.terminate() == 0)
                // One JSON object per line, each with the four keys; one `page stored` line per stored page.
                let lines = try String(contentsOf: daemon.log, encoding: .utf8).split(separator: "\n")
                var pageLines = 0
                for line in lines {
                    let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
                    #expect(object != nil, "not one JSON object of strings: \(line)")
                    guard let object else { continue }
                    #expect(["ts", "level", "subsystem", "msg"].allSatisfy { object[$0] != nil }, "\(line)")
                    if object["msg"] == "page stored" {
                        pageLines += 1
                        #expect(object["subsystem"] == "sync" && object["server"] == server)
                        #expect(["records", "inserted", "updated", "deleted", "quarantined", "read_ms", "store_ms", "cursor"].allSatisfy { object[$0] != nil }, "\(line)")
                    }
                }
                #expect(Double(pageLines) >= pages, "a line per page stored: \(pageLines) lines, \(pages) pages counted at the last scrape")
            } catch {
                daemon.stop()
                await simulator.stopped()
                throw error
            }
            daemon.stop()
            await simulator.stopped()
        }
    }

    @Test("a bridge that is down: every failed attempt counts in mtsync_bridge_errors_total by code, and the instance stays ready (it holds the lease and keeps trying)")
    func bridgeDown() async throws {
        try await Self.withHTTPClient { httpClient in
            let simulator = try await SimulatorProcess.launch(platform: "mt5", days: 1, dealsPerDay: 10, seed: 62)
            let database = try await TestDatabase.create()
            #expect(try await CLI.launch(["migrate", "--database-url", database.url]).status == 0)
            let config = try simulator.writeConfig(databaseURL: database.url, pageSize: 100, ingest: "monitoring:\n  listen: 127.0.0.1:0\n  refresh: 1s")
            // The configuration points at the simulator's port; with the simulator gone, nothing listens there.
            await simulator.stopped()
            let daemon = try DaemonProcess(config: config, environment: simulator.environment)
            defer { daemon.stop() }
            let base = "http://127.0.0.1:\(try await Self.monitoringPort(of: daemon))"
            var errors: Double = 0
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline, errors < 2 {
                try await Task.sleep(for: .milliseconds(300))
                errors = try await Self.parse(try await Self.get(base + "/metrics", httpClient).body)
                    .value("mtsync_bridge_errors_total", ["server": simulator.serverID, "code": "connect_failed"]) ?? 0
            }
            #expect(errors >= 2, "\(daemon.logTail())")
            let ready = try await Self.get(base + "/readyz", httpClient)
            #expect(ready.status == 200 && ready.body.contains("\(simulator.serverID): held"), "\(ready.body)")
            #expect(await daemon.terminate() == 0)
        }
    }

    static let hmacSecret = "monitoring-test-hmac-secret-5e1f0a9b7c"
    static let wrongPassword = "not-the-password-Zq8%40x"

    @Test("no configured secret reaches a log line, an error or /metrics over a full run: check-config, migrate, accounts, sync, backfill --feed, reconcile --repair, the daemon at trace level, status, relays that fail, a wrong password")
    func secretsNeverLogged() async throws {
        try await Self.withHTTPClient { httpClient in
            try await FileIngestServer.run(apiKey: FeedCLITests.apiKey) { fileIngest in
                let (simulator, database, feedConfig, environment) = try await FeedCLITests.syncedWithFileIngest(httpClient, fileIngestURL: fileIngest.url)
                defer { simulator.stop() }
                var outputs: [(what: String, text: String)] = []
                func run(_ what: String, _ arguments: [String], environment extra: [String: String] = [:]) async throws -> CLI.Result {
                    let result = try await CLI.launch(arguments, environment: environment.merging(extra) { $1 })
                    outputs.append((what, result.stdout + result.stderr))
                    return result
                }
                let sqs = try LocalSQS.client(httpClient)
                let queueURL = try await LocalSQS.createQueue(LocalSQS.uniqueName("secrets"), client: sqs)
                let full = simulator.folder.appending(path: "full.yaml")
                try Data((try String(contentsOf: feedConfig, encoding: .utf8) + """

                    ingest:
                      sqs:
                        queue_url: \(queueURL)
                        endpoint: \(try LocalSQS.endpoint())
                    monitoring:
                      listen: 127.0.0.1:0
                      refresh: 1s
                    logging:
                      level: trace
                    """).utf8).write(to: full)
                let config = ["--config", full.path]
                let server = simulator.serverID

                #expect(try await run("check-config", ["check-config", full.path]).status == 0)
                #expect(try await run("migrate", ["migrate", "--database-url", database.url]).status == 0)
                #expect(try await run("accounts sync", ["accounts", "sync", "--log-level", "trace"] + config).status == 0)
                #expect(try await run("sync", ["sync", "--log-level", "trace", "--log-format", "json"] + config).status == 0)
                // While events wait: a relay to an HTTP ingest that is not there fails, signing with the HMAC secret.
                let http = simulator.folder.appending(path: "http.yaml")
                try Data((try String(contentsOf: feedConfig, encoding: .utf8) + "\n" + RelayCLITests.httpIngest(url: "http://127.0.0.1:9/ingest")).utf8).write(to: http)
                let secretEnvironment = ["MTSYNC_TEST_INGEST_SECRET": Self.hmacSecret]
                #expect(try await run("relay to nowhere", ["relay", "--once", "--log-level", "trace", "--config", http.path], environment: secretEnvironment).status == 75)
                let backfill = try await run("backfill", ["backfill", "--server", server, "--from", "2025-01-01", "--to", "2025-01-03", "--feed", "--log-level", "trace"] + config)
                #expect(backfill.status == 0, "\(backfill.stdout)\(backfill.stderr)")
                #expect(try await run("reconcile", ["reconcile", "--server", server, "--from", "2025-01-01", "--to", "2025-01-03", "--repair"] + config).status == 0)

                let daemon = try DaemonProcess(config: full, environment: environment)
                do {
                    let base = "http://127.0.0.1:\(try await Self.monitoringPort(of: daemon))"
                    let connection = try await database.connect()
                    let deadline = ContinuousClock.now + .seconds(60)
                    while ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(500))
                        if try await connection.query("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")[0].decode(Int.self, 0) == 0 { break }
                    }
                    for path in ["/metrics", "/readyz", "/healthz"] { outputs.append(("GET \(path)", try await Self.get(base + path, httpClient).body)) }
                    #expect(await daemon.terminate() == 0)
                } catch {
                    daemon.stop()
                    throw error
                }
                outputs.append(("the daemon's log", try String(contentsOf: daemon.log, encoding: .utf8)))
                #expect(try await run("relay", ["relay", "--once"] + config).status == 0)
                #expect(try await run("status", ["status", "--database-url", database.url]).status == 0)
                #expect(try await run("status --json", ["status", "--database-url", database.url, "--json"]).status == 0)
                #expect(try await run("feed run", ["feed", "run", "--once", "--log-level", "trace"] + config).status == 0)

                // Failures, whose messages are where a secret would most likely slip out.
                let wrongURL = database.url.replacingOccurrences(of: #":[^:@/]+@"#, with: ":\(Self.wrongPassword)@", options: .regularExpression)
                #expect(wrongURL != database.url, "the test database's URL carries a password: \(wrongURL)")
                #expect(try await run("wrong password", ["sync", "--log-level", "trace"] + config, environment: ["MTSYNC_DATABASE_URL": wrongURL]).status != 0)
                #expect(try await run("status, wrong password", ["status", "--database-url", wrongURL]).status != 0)
                let wrongKey = String(repeating: "7e", count: 32)
                #expect(try await run("wrong bridge key", ["sync", "--log-level", "trace"] + config, environment: ["MTSYNC_TEST_BRIDGE_KEY": wrongKey]).status == 75)

                let bridgeKey = try #require(environment["MTSYNC_TEST_BRIDGE_KEY"])
                let password = try #require(database.url.firstMatch(of: /:([^:@\/]+)@/)?.1).description
                let secrets = [
                    ("the bridge key", bridgeKey.lowercased()), ("the bridge key", bridgeKey.uppercased()), ("a wrong bridge key", wrongKey),
                    ("the HMAC secret", Self.hmacSecret), ("the file-ingest API key", FeedCLITests.apiKey),
                    ("the AWS secret key", LocalSQS.credentials.secretAccessKey), ("the database password", password),
                    ("a wrong database password", Self.wrongPassword), ("a wrong database password, decoded", Self.wrongPassword.removingPercentEncoding ?? ""),
                ]
                #expect(outputs.count >= 18)
                #expect(outputs.contains { $0.what == "the daemon's log" && ($0.text.contains("level=trace") || $0.text.contains("level=debug")) }, "the daemon logged at its most verbose")
                for (what, text) in outputs {
                    for (name, secret) in secrets where text.contains(secret) {
                        Issue.record("\(name) appears in the output of \(what)")
                    }
                }
            }
        }
    }
}
