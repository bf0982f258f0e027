import AsyncHTTPClient
import Crypto
import Foundation
import MTSyncCore
import MTSyncIngest
import MTSyncStore
import MTSyncTestSupport
import Testing

/// The relay through the real binary to real ingest servers on loopback: moto's SQS (standard and FIFO queues) and
/// an HTTP ingest that fails on purpose. What the ingest received is compared with the store.
@Suite("Relay to the ingest: moto's SQS and a faulty HTTP ingest, through mtsync relay")
struct RelayCLITests {
    static let httpSecret = "relay-test-hmac-secret-0123456789abcdef"

    /// A database holding one synced simulator history, and a configuration with `ingest`.
    struct Synced {
        let simulator: SimulatorProcess
        let database: TestDatabase
        let connection: PostgresConnection
        let config: URL
        let environment: [String: String]

        func stop() { simulator.stop() }

        /// Every outbox event's key, in event order.
        func outboxKeys() async throws -> [String] {
            try await connection.query("SELECT idempotency_key FROM outbox_events ORDER BY event_id").map { try $0.decode(String.self, 0) }
        }

        func count(_ sql: String) async throws -> Int {
            try await connection.query(PostgresQuery(sql: sql))[0].decode(Int.self, 0)
        }
    }

    static func synced(dealsPerDay: Int = 400, ingest: String, environment extra: [String: String] = [:]) async throws -> Synced {
        let simulator = try SimulatorProcess.start(days: 1, dealsPerDay: dealsPerDay, seed: 21)
        let database = try await TestDatabase.create()
        let migrate = try await CLI.launch(["migrate", "--database-url", database.url])
        #expect(migrate.status == 0, "\(migrate.stderr)")
        let config = try simulator.writeConfig(databaseURL: database.url, pageSize: 200, ingest: ingest)
        let environment = simulator.environment.merging(extra) { $1 }
        let sync = try await CLI.launch(["sync", "--config", config.path], environment: environment)
        #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
        return Synced(simulator: simulator, database: database, connection: try await database.connect(), config: config, environment: environment)
    }

    static func sqsIngest(queueURL: String, endpoint: String, batchSize: Int = 500) -> String {
        """
        ingest:
          sqs:
            queue_url: \(queueURL)
            endpoint: \(endpoint)
          relay:
            batch_size: \(batchSize)
        """
    }

    static func httpIngest(url: String, timeout: String = "1s", batchSize: Int = 100, claimFor: String = "5s", maxAttempts: Int = 50) -> String {
        """
        ingest:
          http:
            url: \(url)
            secret_env: MTSYNC_TEST_INGEST_SECRET
            timeout: \(timeout)
            max_message_bytes: 8192
          relay:
            batch_size: \(batchSize)
            claim_for: \(claimFor)
            max_attempts: \(maxAttempts)
            max_retry_delay: 1s
        """
    }

    static func messageKey(of keys: [String]) -> String {
        var hasher = SHA256()
        for key in keys { hasher.update(data: Array((key + "\n").utf8)) }
        return "v1-" + hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    @Test("standard queue: every outbox event arrives exactly once, in messages whose keys follow from their events, and is marked delivered")
    func standardQueue() async throws {
        // The shared client lives as long as the process: a test that throws half-way cannot leave a client to be
        // deinitialized unshut (AsyncHTTPClient traps on that in debug builds, taking every other test with it).
        let httpClient = HTTPClient.shared
        let sqs = try LocalSQS.client(httpClient)
        // A queue smaller than SQS's default: the relay must read its MaximumMessageSize and pack for it.
        let queueURL = try await LocalSQS.createQueue(LocalSQS.uniqueName("facts"), maximumMessageSize: 65_536, client: sqs)
        let synced = try await Self.synced(ingest: Self.sqsIngest(queueURL: queueURL, endpoint: try LocalSQS.endpoint()), environment: LocalSQS.processEnvironment)
        defer { synced.stop() }

        let relay = try await CLI.launch(["relay", "--once", "--config", synced.config.path, "--json"], environment: synced.environment)
        #expect(relay.status == 0, "\(relay.stdout)\(relay.stderr)")
        #expect(!relay.stderr.contains(LocalSQS.credentials.secretAccessKey) && !relay.stdout.contains(LocalSQS.credentials.secretAccessKey))

        let messages = try await LocalSQS.drain(queueURL, client: sqs)
        var received: [String] = []
        for message in messages {
            let events = try ReceivedEvent.parse(message.Body)
            #expect(events.first?.messageKey == Self.messageKey(of: events.map(\.idempotencyKey)), "message_key is derived from the events' keys")
            #expect(message.Body.utf8.count <= 65_536)
            received += events.map(\.idempotencyKey)
        }
        let keys = try await synced.outboxKeys()
        #expect(keys.count == (try await synced.count("SELECT count(*) FROM trading_facts")) && keys.count >= 400)
        #expect(received.sorted() == keys.sorted(), "every event once, none twice")
        #expect(messages.count < keys.count / 10, "facts are packed densely, many to a message: \(messages.count) messages")
        #expect(try await synced.count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0)
    }

    @Test("FIFO queue: one message group per server:login, deduplication id = message key, each trader's events in outbox order")
    func fifoQueue() async throws {
        // The shared client lives as long as the process: a test that throws half-way cannot leave a client to be
        // deinitialized unshut (AsyncHTTPClient traps on that in debug builds, taking every other test with it).
        let httpClient = HTTPClient.shared
        let sqs = try LocalSQS.client(httpClient)
        let queueURL = try await LocalSQS.createQueue(LocalSQS.uniqueName("facts"), fifo: true, client: sqs)
        let synced = try await Self.synced(ingest: Self.sqsIngest(queueURL: queueURL, endpoint: try LocalSQS.endpoint(), batchSize: 150), environment: LocalSQS.processEnvironment)
        defer { synced.stop() }

        let relay = try await CLI.launch(["relay", "--once", "--config", synced.config.path], environment: synced.environment)
        #expect(relay.status == 0, "\(relay.stdout)\(relay.stderr)")
        let messages = try await LocalSQS.drain(queueURL, client: sqs)

        var receivedByLogin: [Int64: [String]] = [:]
        for message in messages {
            let events = try ReceivedEvent.parse(message.Body)
            let logins = Set(events.compactMap(\.login))
            #expect(logins.count == 1, "a FIFO message carries one trader's events")
            let login = try #require(logins.first)
            #expect(message.Attributes?["MessageGroupId"] == "sim-mt5:\(login)")
            #expect(message.Attributes?["MessageDeduplicationId"] == events.first?.messageKey)
            receivedByLogin[login, default: []] += events.map(\.idempotencyKey)
        }
        // The order SQS hands a group out in is the order it was sent in.
        let rows = try await synced.connection.query("SELECT f.login, e.idempotency_key FROM outbox_events e JOIN trading_facts f USING (fact_id) ORDER BY e.event_id")
        var expected: [Int64: [String]] = [:]
        for row in rows { expected[try row.decode(Int64.self, 0), default: []].append(try row.decode(String.self, 1)) }
        #expect(receivedByLogin == expected)
        #expect(try await synced.count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0)
    }

    @Test("HTTP ingest failing 30 % of requests (500, 429 with Retry-After, timeouts) and refusing one poison fact: everything else arrives, the poison is dead-lettered with the answer, nothing is marked delivered that was not acknowledged")
    func faultyHTTPIngest() async throws {
        // The poison: one fact the ingest always refuses with 422.
        let poisonHolder = PoisonHolder()
        let server = try await IngestHTTPServer.start(secret: Self.httpSecret) { request, number in
            if let poison = poisonHolder.key, request.body.contains("\"\(poison)\"") {
                return .status(422, body: #"{"error":"fact rejected: unknown symbol"}"#)
            }
            var random = SplitMix64(seed: UInt64(number) &* 0x9E37_79B9)
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<12: return .status(500, body: "internal error")
            case 12..<24: return .status(429, retryAfter: "1", body: "slow down")
            case 24..<30: return .hang(.seconds(3))  // past the relay's 1 s timeout
            default: return .accept
            }
        }
        let synced = try await Self.synced(ingest: Self.httpIngest(url: server.url), environment: ["MTSYNC_TEST_INGEST_SECRET": Self.httpSecret])
        defer { synced.stop() }
        poisonHolder.key = try await synced.connection.query("SELECT idempotency_key FROM outbox ORDER BY event_id OFFSET 123 LIMIT 1")[0].decode(String.self, 0)

        var outputs = ""
        var finished = false
        for _ in 0..<40 {
            let relay = try await CLI.launch(["relay", "--once", "--config", synced.config.path], environment: synced.environment)
            outputs += relay.stdout + relay.stderr
            #expect([0, 65, 75].contains(relay.status), "\(relay.stdout)\(relay.stderr)")
            if try await synced.count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND parked_at IS NULL") == 0 {
                finished = true
                break
            }
            try await Task.sleep(for: .milliseconds(700))
        }
        #expect(finished, "everything deliverable was delivered within 40 relay runs")
        #expect(!outputs.contains(Self.httpSecret), "the HMAC secret never appears in output")

        let poison = try #require(poisonHolder.key)
        let parked = try await synced.connection.query("SELECT idempotency_key FROM outbox WHERE parked_at IS NOT NULL").map { try $0.decode(String.self, 0) }
        #expect(parked == [poison], "exactly the poison fact is parked, not the facts packed with it")
        let letters = try await synced.connection.query("SELECT response FROM dead_letters WHERE idempotency_key = \(poison) AND cause = 'rejected'")
        #expect(letters.count == 1)
        let response = try letters.first.flatMap { try $0.decode(String?.self, 0) }
        #expect(response?.contains("unknown symbol") == true)

        let acknowledged = Set(try server.acceptedEventKeys())
        let delivered = try await synced.connection.query("SELECT idempotency_key FROM outbox_delivered").map { try $0.decode(String.self, 0) }
        #expect(delivered.count == (try await synced.count("SELECT count(*) FROM outbox_events")) - 1)
        #expect(delivered.allSatisfy(acknowledged.contains), "only acknowledged events are marked delivered")
        #expect(server.received.allSatisfy { $0.signature == .valid && $0.idempotencyKey?.hasPrefix("v1-") == true })
        #expect(server.received.count > server.accepted.count, "faults were injected")
        await server.stop()
    }

    @Test("kill -9 of the relay at random instants, then one run to the end: no event lost, every event acknowledged before it was marked")
    func killNineRelay() async throws {
        let server = try await IngestHTTPServer.start(secret: Self.httpSecret) { _, _ in .hang(.milliseconds(60)) }
        let synced = try await Self.synced(dealsPerDay: 3_000, ingest: Self.httpIngest(url: server.url, timeout: "5s", batchSize: 30, claimFor: "5s"),
                                           environment: ["MTSYNC_TEST_INGEST_SECRET": Self.httpSecret])
        defer { synced.stop() }
        var random = SplitMix64(seed: 0x5E1A_7)
        var killed = 0
        for _ in 0..<10 {
            let delay = Duration.milliseconds(Int.random(in: 200...700, using: &random))
            if try await CLI.killed(["relay", "--config", synced.config.path], environment: synced.environment, after: delay) { killed += 1 }
            // Everything marked so far was acknowledged first.
            let acknowledged = Set(try server.acceptedEventKeys())
            let delivered = try await synced.connection.query("SELECT idempotency_key FROM outbox_delivered").map { try $0.decode(String.self, 0) }
            #expect(delivered.allSatisfy(acknowledged.contains))
        }
        #expect(killed >= 8, "the relays were killed mid-flight: \(killed)")
        #expect(try await synced.count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") > 0, "the kills left work undone")
        // The killed relays' claims expire (claim_for 5 s); then one run delivers the rest.
        try await Task.sleep(for: .seconds(5.5))
        let final = try await CLI.launch(["relay", "--once", "--config", synced.config.path], environment: synced.environment)
        #expect(final.status == 0, "\(final.stdout)\(final.stderr)")
        #expect(try await synced.count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0)
        let acknowledged = Set(try server.acceptedEventKeys())
        #expect(Set(try await synced.outboxKeys()).isSubset(of: acknowledged), "no event lost")
        await server.stop()
    }

    @Test("a redirect from the ingest is never followed: signed events go only where they were configured (security.md §8.2)", arguments: [301, 302, 307, 308])
    func redirectNotFollowed(status: Int) async throws {
        let elsewhere = try await IngestHTTPServer.start(secret: Self.httpSecret)
        let server = try await IngestHTTPServer.start(secret: Self.httpSecret) { _, _ in .redirect(status, to: elsewhere.url) }
        let synced = try await Self.synced(dealsPerDay: 20, ingest: Self.httpIngest(url: server.url, maxAttempts: 2), environment: ["MTSYNC_TEST_INGEST_SECRET": Self.httpSecret])
        defer { synced.stop() }
        let relay = try await CLI.launch(["relay", "--once", "--config", synced.config.path], environment: synced.environment)
        #expect(relay.status != 0, "nothing was delivered: \(relay.stdout)\(relay.stderr)")
        #expect(!server.received.isEmpty, "the configured ingest was asked")
        #expect(elsewhere.received.isEmpty, "the redirect's target got nothing")
        #expect(try await synced.count("SELECT count(*) FROM outbox_delivered") == 0, "a redirect is not a delivery")
        await server.stop()
        await elsewhere.stop()
    }

    @Test("mtsync outbox list, retry and purge act on parked events and print no secret; prune deletes delivered ones past the retention; resend queues stored facts again")
    func outboxCommands() async throws {
        let server = try await IngestHTTPServer.start(secret: Self.httpSecret) { _, _ in .status(400, body: #"{"error":"schema_version 1 not supported"}"#) }
        let synced = try await Self.synced(dealsPerDay: 30, ingest: Self.httpIngest(url: server.url), environment: ["MTSYNC_TEST_INGEST_SECRET": Self.httpSecret])
        defer { synced.stop() }
        let relay = try await CLI.launch(["relay", "--once", "--config", synced.config.path], environment: synced.environment)
        #expect(relay.status == 65, "dead letters make exit status 65: \(relay.stdout)\(relay.stderr)")
        let list = try await CLI.launch(["outbox", "list", "--database-url", synced.database.url, "--server", "sim-mt5", "--json"])
        #expect(list.status == 0)
        let letters = (try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["dead_letters"] as? [[String: Any]]
        let events = try await synced.count("SELECT count(*) FROM outbox")
        #expect(letters?.count == events)
        #expect((letters?.first?["response"] as? String)?.contains("not supported") == true)
        let retry = try await CLI.launch(["outbox", "retry", "--database-url", synced.database.url, "--server", "sim-mt5", "--event", "1", "--by", "ops"])
        #expect(retry.status == 0 && retry.stdout.contains("1 event(s) back"), "\(retry.stdout)\(retry.stderr)")
        let purge = try await CLI.launch(["outbox", "purge", "--database-url", synced.database.url, "--server", "sim-mt5", "--json"])
        #expect(purge.status == 0 && purge.stdout.contains("\"purged\" : \(events - 1)"), "\(purge.stdout)\(purge.stderr)")
        // The retried event, once delivered (here: eight days ago), is pruned after the retention.
        try await Outbox.markDelivered([1], on: synced.connection)
        try await synced.connection.query("UPDATE outbox_delivered SET delivered_at = now() - interval '8 days'")
        let prune = try await CLI.launch(["outbox", "prune", "--older-than", "7d", "--database-url", synced.database.url, "--json"])
        #expect(prune.status == 0 && prune.stdout.contains("\"pruned\" : 1"), "\(prune.stdout)\(prune.stderr)")
        #expect(try await synced.count("SELECT count(*) FROM outbox") == 0)
        let tooShort = try await CLI.launch(["outbox", "prune", "--older-than", "5s", "--database-url", synced.database.url])
        #expect(tooShort.status != 0 && tooShort.stderr.contains("at least 1m"), "\(tooShort.stdout)\(tooShort.stderr)")
        // The ingest lost what it had: the stored facts go again, each under its own key.
        let facts = try await synced.count("SELECT count(*) FROM trading_facts")
        let resend = try await CLI.launch([
            "outbox", "resend", "--server", "sim-mt5", "--from", "2024-12-01", "--to", "2026-01-01", "--database-url", synced.database.url, "--json",
        ])
        #expect(resend.status == 0 && resend.stdout.contains("\"queued\" : \(facts)"), "\(resend.stdout)\(resend.stderr)")
        #expect(try await synced.count("SELECT count(*) FROM outbox o JOIN trading_facts f USING (fact_id) WHERE o.idempotency_key = f.idempotency_key") == facts)
        let backwards = try await CLI.launch(["outbox", "resend", "--server", "sim-mt5", "--from", "2025-02-01", "--to", "2025-01-01", "--database-url", synced.database.url])
        #expect(backwards.status != 0 && backwards.stderr.contains("--from must be before --to"), "\(backwards.stderr)")
        await server.stop()
    }

    @Test("a backfill announces itself: backfill.started, its facts, then backfill.completed whose counts, per-login sums and checksum the ingest can recompute from what it received; all flagged backfill")
    func backfillMarkers() async throws {
        let server = try await IngestHTTPServer.start(secret: Self.httpSecret)
        let simulator = try SimulatorProcess.start(days: 2, dealsPerDay: 300, seed: 33)
        defer { simulator.stop() }
        let database = try await TestDatabase.create()
        #expect(try await CLI.launch(["migrate", "--database-url", database.url]).status == 0)
        let config = try simulator.writeConfig(databaseURL: database.url, pageSize: 100, ingest: Self.httpIngest(url: server.url))
        let environment = simulator.environment.merging(["MTSYNC_TEST_INGEST_SECRET": Self.httpSecret]) { $1 }
        let backfill = try await CLI.launch(["backfill", "--config", config.path, "--server", "sim-mt5", "--from", "2025-01-01", "--to", "2025-01-03", "--chunk", "1d"], environment: environment)
        #expect(backfill.status == 0, "\(backfill.stdout)\(backfill.stderr)")
        let relay = try await CLI.launch(["relay", "--once", "--config", config.path], environment: environment)
        #expect(relay.status == 0, "\(relay.stdout)\(relay.stderr)")

        var facts: [[String: Any]] = [], markers: [String: [String: Any]] = [:]
        for request in server.accepted {
            let envelope = try #require(try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any])
            #expect(envelope["backfill"] as? Bool == true, "everything a backfill wrote travels flagged")
            for event in try #require(envelope["events"] as? [[String: Any]]) {
                if let fact = event["fact"] as? [String: Any] { facts.append(fact) }
                if let marker = event["backfill"] as? [String: Any], let kind = event["kind"] as? String { markers[kind] = marker }
            }
        }
        let started = try #require(markers["backfill.started"])
        #expect(started["from"] as? String == "2025-01-01T00:00:00.000" && started["to"] as? String == "2025-01-03T00:00:00.000")
        #expect(started["chunks"] as? Int == 2 && started["server"] as? String == "sim-mt5" && started["platform"] as? String == "mt5")
        let completed = try #require(markers["backfill.completed"])
        // The receiver's side of docs/ingest.md "Completeness": recompute from the facts received.
        let live = facts.filter { ($0["deleted"] as? Bool) != true }
        #expect(completed["facts"] as? Int == live.count && live.count >= 600)
        let keys = live.compactMap { $0["idempotency_key"] as? String }.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let checksum = SHA256.hash(data: Array(keys.map { $0 + "\n" }.joined().utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(completed["checksum"] as? String == checksum)
        var perLogin: [Int64: (facts: Int, net: Decimal)] = [:]
        for fact in live {
            let login = try #require((fact["login"] as? NSNumber)?.int64Value)
            let text = try #require(fact["net"] as? String)
            let net = try #require(Decimal(string: text))
            perLogin[login, default: (0, 0)].facts += 1
            perLogin[login, default: (0, 0)].net += net
        }
        let logins = try #require(completed["logins"] as? [[String: Any]])
        #expect(logins.count == perLogin.count)
        for entry in logins {
            let login = try #require((entry["login"] as? NSNumber)?.int64Value)
            #expect(entry["facts"] as? Int == perLogin[login]?.facts)
            #expect(Decimal(string: entry["net"] as? String ?? "") == perLogin[login]?.net)
        }
        // In the outbox, the completion is behind every fact it sums up.
        let connection = try await database.connect()
        let behind = try await connection.query("""
            SELECT (SELECT event_id FROM outbox_events WHERE event_kind = 'backfill.completed') > (SELECT max(event_id) FROM outbox_events WHERE event_kind LIKE 'fact.%' AND backfill_job_id IS NOT NULL)
            """)[0].decode(Bool.self, 0)
        #expect(behind)
        await server.stop()
    }

    @Test("mtsync run syncs, aggregates and relays: every event reaches the SQS queue while it runs, and SIGTERM still exits 0")
    func daemonRelays() async throws {
        // The shared client lives as long as the process: a test that throws half-way cannot leave a client to be
        // deinitialized unshut (AsyncHTTPClient traps on that in debug builds, taking every other test with it).
        let httpClient = HTTPClient.shared
        let sqs = try LocalSQS.client(httpClient)
        let queueURL = try await LocalSQS.createQueue(LocalSQS.uniqueName("daemon"), client: sqs)
        let simulator = try SimulatorProcess.start(days: 1, dealsPerDay: 300, seed: 55)
        defer { simulator.stop() }
        let database = try await TestDatabase.create()
        #expect(try await CLI.launch(["migrate", "--database-url", database.url]).status == 0)
        let ingest = Self.sqsIngest(queueURL: queueURL, endpoint: try LocalSQS.endpoint()) + "\n  aggregates:\n    grace: 0s\n    every: 1s"
        let config = try simulator.writeConfig(databaseURL: database.url, pageSize: 100, ingest: ingest)
        let daemon = try DaemonProcess(config: config, environment: simulator.environment.merging(LocalSQS.processEnvironment) { $1 })
        defer { daemon.stop() }
        let connection = try await database.connect()
        var received: [String] = []
        var pending = -1
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            received += try await LocalSQS.drain(queueURL, client: sqs).flatMap { try ReceivedEvent.parse($0.Body).map(\.idempotencyKey) }
            let facts = try await connection.query("SELECT count(*) FROM trading_facts")[0].decode(Int.self, 0)
            let aggregates = try await connection.query("SELECT count(*) FROM outbox_events WHERE event_kind = 'aggregate.hourly'")[0].decode(Int.self, 0)
            pending = try await connection.query("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")[0].decode(Int.self, 0)
            if facts >= 300, aggregates > 0, pending == 0 { break }
        }
        #expect(pending == 0, "the daemon's relay delivered everything")
        // The daemon keeps running (its aggregator may add events after the loop): every event marked delivered
        // before the last drain was sent before it was marked, so it is in what the queue gave; and nothing came
        // that the outbox does not hold.
        let delivered = try await connection.query("SELECT idempotency_key FROM outbox_delivered").map { try $0.decode(String.self, 0) }
        received += try await LocalSQS.drain(queueURL, client: sqs).flatMap { try ReceivedEvent.parse($0.Body).map(\.idempotencyKey) }
        let keys = try await connection.query("SELECT idempotency_key FROM outbox_events").map { try $0.decode(String.self, 0) }
        #expect(Set(delivered).isSubset(of: received) && Set(received).isSubset(of: keys) && delivered.contains { $0.contains(":agg:") },
                "delivered, not received: \(Set(delivered).subtracting(received).sorted().prefix(5)), not in the outbox: \(Set(received).subtracting(keys).sorted().prefix(5))")
        #expect(delivered.count >= 300, "every fact delivered")
        #expect(await daemon.terminate() == 0)
    }

    @Test("an unreachable ingest: relay --once exits 75 (temporary) and says why, naming neither the AWS secret nor the HMAC secret")
    func unreachableIngestKeepsSecrets() async throws {
        let synced = try await Self.synced(dealsPerDay: 20, ingest: Self.sqsIngest(queueURL: "http://127.0.0.1:9/123456789012/nowhere", endpoint: "http://127.0.0.1:9"),
                                           environment: LocalSQS.processEnvironment)
        defer { synced.stop() }
        let sqs = try await CLI.launch(["relay", "--once", "--config", synced.config.path], environment: synced.environment)
        #expect(sqs.status == 75, "\(sqs.stdout)\(sqs.stderr)")
        #expect(sqs.stderr.contains("127.0.0.1:9"))
        #expect(!(sqs.stdout + sqs.stderr).contains(LocalSQS.credentials.secretAccessKey))

        let http = try synced.simulator.writeConfig(databaseURL: synced.database.url, pageSize: 200, ingest: Self.httpIngest(url: "http://127.0.0.1:9/ingest"))
        let environment = synced.environment.merging(["MTSYNC_TEST_INGEST_SECRET": Self.httpSecret]) { $1 }
        let relay = try await CLI.launch(["relay", "--once", "--config", http.path], environment: environment)
        #expect(relay.status == 75, "\(relay.stdout)\(relay.stderr)")
        let check = try await CLI.launch(["check-config", http.path], environment: environment)
        for output in [relay.stdout, relay.stderr, check.stdout, check.stderr] { #expect(!output.contains(Self.httpSecret)) }
        #expect(try await synced.count("SELECT count(*) FROM outbox_delivered") == 0)
    }
}

/// The poison key, set once the store is filled (the server starts before it).
final class PoisonHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var value: String?
    var key: String? {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}
