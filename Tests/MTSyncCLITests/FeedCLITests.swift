import AsyncHTTPClient
import Foundation
import MTBridgeSimulator
import MTSyncCore
import MTSyncIngest
import MTSyncStore
import MTSyncTestSupport
import Testing

/// The loyalty platform's daily feed through the real binary: an MT5 and an MT4 simulator, moto's SQS, and the
/// simulators' own per-day ground truth (computed from the raw records, not through mtsync's normalizer).
@Suite("The daily feed: what the platform receives equals the simulators' ground truth, per customer and day")
struct FeedCLITests {
    static let triggerID = "65f0c1e2a9b8c7d6e5f4a3b2"
    static let eurRate = ExactDecimal(parsing: "1.1")!
    static let centFactor = ExactDecimal(parsing: "0.01")!
    static let days = 2

    /// Both simulators' datasets, as the processes serve them.
    static func dataset(_ simulator: SimulatorProcess, seed: Int, dealsPerDay: Int) -> SimulatedDataset {
        SimulatedDataset(.init(
            seed: UInt64(seed), serverID: simulator.serverID, firstDay: 20_089, days: days, dealsPerDay: dealsPerDay, logins: 20,
            platform: simulator.platform == "mt4" ? .mt4 : .mt5))
    }

    /// The configuration: both servers with a demo-excluding group filter on ny-close server time, and the feed on
    /// the ny-close trading day, so a server day is a feed day.
    static func writeConfig(databaseURL: String, servers: [SimulatorProcess], queueURL: String, endpoint: String, folder: URL, extraFeed: String = "") throws -> URL {
        let entries = servers.map { server in
            server.serverEntry(pageSize: 200, pollInterval: "10s") + """
                    rules:
                      filters:
                        groups: ["!demo*"]

                """
        }.joined()
        let text = """
            database:
              url: \(databaseURL)
            instance:
              id: feed-test
            servers:
            \(entries)
            feed:
              trigger_id: \(triggerID)
              source: mtsync-test
              day: ny-close
              reporting_currency: USD
              cent:
                groups: ["*cent*"]
                factor: "0.01"
              rates:
                EUR: "1.1"
              claim_for: 2s
              sqs:
                queue_url: \(queueURL)
                endpoint: \(endpoint)
            \(extraFeed)
            """
        let url = folder.appending(path: "feed-\(UUID().uuidString.prefix(6)).yaml")
        try Data(text.utf8).write(to: url)
        return url
    }

    struct Key: Hashable, Comparable, CustomStringConvertible {
        var customer: String
        var date: String
        static func < (lhs: Key, rhs: Key) -> Bool { (lhs.date, lhs.customer) < (rhs.date, rhs.customer) }
        var description: String { "\(customer)@\(date)" }
    }

    struct Figures: Hashable, CustomStringConvertible {
        var deposit: ExactDecimal
        var lots: ExactDecimal
        var description: String { "deposit \(deposit), lots \(lots)" }
        var isZero: Bool { deposit.isZero && lots.isZero }
    }

    /// What the platform should hold per (customer, date): the simulators' daily truth, demo logins left out,
    /// cent accounts × 0.01, EUR × 1.1, money rounded to cents after the customer's sum. `customers` maps a
    /// (server, login) to its customer id; a login missing from it is not sent.
    static func expected(_ datasets: [(server: String, dataset: SimulatedDataset)], generation: Int, customers: [String: String]) -> [Key: Figures] {
        var sums: [Key: (deposit: ExactDecimal, lots: ExactDecimal)] = [:]
        for (server, dataset) in datasets {
            let accounts = Dictionary(uniqueKeysWithValues: dataset.accounts.map { ($0.login, $0) })
            for (key, truth) in dataset.dailyTruth(generation: generation) {
                guard let account = accounts[key.login], !account.isDemo, let customer = customers["\(server):\(key.login)"] else { continue }
                let cent = account.group.lowercased().contains("cent")
                let moneyFactor = cent ? centFactor : account.currency == "EUR" ? eurRate : ExactDecimal(1)
                let lots = ExactDecimal(Int128(truth.closedVolumeExt), scale: 8)!.multiplied(by: cent ? centFactor : ExactDecimal(1))!
                let deposit = ExactDecimal(Int128(truth.depositCents), scale: 2)!.multiplied(by: moneyFactor)!
                let sum = sums[Key(customer: customer, date: key.date), default: (.zero, .zero)]
                sums[Key(customer: customer, date: key.date)] = (sum.deposit.adding(deposit)!, sum.lots.adding(lots)!)
            }
        }
        return sums.mapValues { Figures(deposit: $0.deposit.rounded(scale: 2), lots: $0.lots.rounded(scale: 8)) }.filter { !$0.value.isZero }
    }

    /// The customer of every non-demo login the bridges map (the simulators' client ids).
    static func bridgeCustomers(_ datasets: [(server: String, dataset: SimulatedDataset)]) -> [String: String] {
        var map: [String: String] = [:]
        for (server, dataset) in datasets {
            for account in dataset.accounts where !account.isDemo {
                if let id = account.clientID { map["\(server):\(account.login)"] = id }
            }
        }
        return map
    }

    struct Received {
        var batchID: String
        var rows: [(Key, Figures)]
    }

    /// Every message in the queue, in order, parsed: the envelope checked, the numbers read as written.
    static func receive(_ queueURL: String, client: SQSClient) async throws -> [Received] {
        let rowPattern = try Regex(#"\{"user_id":"([^"]*)","date":"(\d{4}-\d{2}-\d{2})","deposit_total":(-?[0-9.]+),"closed_lots":(-?[0-9.]+)\}"#)
        var received: [Received] = []
        for message in try await LocalSQS.drain(queueURL, client: client) {
            let json = try #require(try JSONSerialization.jsonObject(with: Data(message.Body.utf8)) as? [String: Any])
            #expect(json["trigger_id"] as? String == triggerID)
            let metadata = try #require(json["metadata"] as? [String: Any])
            #expect(metadata["source"] as? String == "mtsync-test")
            let batchID = try #require(metadata["batch_id"] as? String)
            let count = (json["data"] as? [Any])?.count ?? -1
            var rows: [(Key, Figures)] = []
            for match in message.Body.matches(of: rowPattern) {
                let figures = Figures(deposit: ExactDecimal(parsing: match.output[3].substring!)!, lots: ExactDecimal(parsing: match.output[4].substring!)!)
                rows.append((Key(customer: String(match.output[1].substring!), date: String(match.output[2].substring!)), figures))
            }
            #expect(rows.count == count, "every row has the documented shape: \(message.Body.prefix(300))")
            #expect(message.Body.utf8.count <= 256_000)
            received.append(Received(batchID: batchID, rows: rows))
        }
        return received
    }

    /// The platform's view after upserting every row in order: the last row per (customer, date).
    static func upserted(_ messages: [Received], into state: inout [Key: Figures]) {
        for message in messages { for (key, figures) in message.rows { state[key] = figures } }
    }

    static func compare(_ state: [Key: Figures], _ expected: [Key: Figures], _ step: String) {
        let received = state.filter { !$0.value.isZero }
        let missing = expected.keys.filter { received[$0] != expected[$0] }.sorted()
        let extra = received.keys.filter { expected[$0] == nil }.sorted()
        #expect(missing.isEmpty, "\(step): rows differing from the ground truth: \(missing.prefix(5).map { "\($0): got \(received[$0].map(\.description) ?? "nothing"), want \(expected[$0]!)" })")
        #expect(extra.isEmpty, "\(step): rows the ground truth does not have: \(extra.prefix(5))")
    }

    @Test("""
        every (customer, date) the platform received equals the ground truth: a customer on an MT4 and an MT5 server, \
        cent and EUR accounts, demo excluded, late, edited and deleted deals resent whole and only when changed, an \
        unmapped login held and then released by accounts import
        """)
    func feedMatchesGroundTruth() async throws {
        try await Self.withHTTPClient { httpClient in try await Self.feedMatchesGroundTruth(httpClient) }
    }

    /// Runs `body` with an HTTP client that is shut down however `body` ends (a client dropped unshut crashes the run).
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

    static func feedMatchesGroundTruth(_ httpClient: HTTPClient) async throws {
        let sqs = try LocalSQS.client(httpClient)
        let endpoint = try LocalSQS.endpoint()
        let queueURL = try await LocalSQS.createQueue(LocalSQS.uniqueName("feed"), fifo: true, client: sqs)
        let dealsPerDay = 150
        var mt5 = try await SimulatorProcess.launch(platform: "mt5", days: days, dealsPerDay: dealsPerDay, seed: 31)
        var mt4 = try await SimulatorProcess.launch(platform: "mt4", days: days, dealsPerDay: dealsPerDay, seed: 32)
        let database = try await TestDatabase.create()
        let migrate = try await CLI.launch(["migrate", "--database-url", database.url])
        #expect(migrate.status == 0, "\(migrate.stderr)")
        let environment = mt5.environment.merging(LocalSQS.processEnvironment) { $1 }
        var config = try writeConfig(databaseURL: database.url, servers: [mt5, mt4], queueURL: queueURL, endpoint: endpoint, folder: mt5.folder)
        let datasets = [(mt5.serverID, dataset(mt5, seed: 31, dealsPerDay: dealsPerDay)), (mt4.serverID, dataset(mt4, seed: 32, dealsPerDay: dealsPerDay))]
        var customers = bridgeCustomers(datasets)

        // Generation 0: sync, accounts, feed.
        for command in [["sync"], ["accounts", "sync"], ["feed", "run", "--once"]] {
            let result = try await CLI.launch(command + ["--config", config.path], environment: environment)
            #expect(result.status == 0, "\(command): \(result.stdout)\(result.stderr)")
        }
        var platform: [Key: Figures] = [:]
        let first = try await receive(queueURL, client: sqs)
        upserted(first, into: &platform)
        let expected0 = expected(datasets, generation: 0, customers: customers)
        compare(platform, expected0, "generation 0")
        // The customer with logins on both servers got one row per day, summing both.
        let shared = "C-100001"
        #expect(customers["sim-mt5:100001"] == shared && customers["sim-mt4:100001"] == shared)
        #expect(expected0.keys.contains { $0.customer == shared }, "the shared customer traded")
        #expect(Set(first.map(\.batchID)).count == first.count, "a batch id per message")

        // `feed preview` prints what a day would send — the rows the platform just received for it — and sends nothing.
        let previewDate = try #require(expected0.keys.map(\.date).min())
        let preview = try await CLI.launch(["feed", "preview", "--date", previewDate, "--config", config.path, "--json"], environment: environment)
        #expect(preview.status == 0, "\(preview.stdout)\(preview.stderr)")
        let previewed = (try JSONSerialization.jsonObject(with: Data(preview.stdout.utf8)) as? [String: Any])?["data"] as? [[String: Any]] ?? []
        var previewRows: [Key: Figures] = [:]
        for row in previewed {
            let key = Key(customer: row["user_id"] as? String ?? "?", date: row["date"] as? String ?? "?")
            previewRows[key] = Figures(
                deposit: ExactDecimal(parsing: row["deposit_total"] as? String ?? "x") ?? .zero, lots: ExactDecimal(parsing: row["closed_lots"] as? String ?? "x") ?? .zero)
        }
        #expect(!previewRows.isEmpty && previewRows.keys.allSatisfy { $0.date == previewDate })
        #expect(previewRows.filter { !$0.value.isZero } == platform.filter { $0.key.date == previewDate && !$0.value.isZero }, "the preview is what was sent")
        #expect(try await receive(queueURL, client: sqs).isEmpty, "a preview sends nothing")

        // The unmapped login (no client_id on either bridge) is held, not sent, and counted.
        let unmapped = datasets.flatMap { server, dataset in dataset.accounts.filter { $0.clientID == nil && !$0.isDemo }.map { "\(server):\($0.login)" } }
        #expect(!unmapped.isEmpty)
        let status = try await CLI.launch(["status", "--database-url", database.url, "--json"])
        let feedStatus = (try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["feed"] as? [String: Any]
        #expect((feedStatus?["held_logins"] as? Int ?? 0) >= 1, "\(status.stdout)")

        // Generation 1: dealers edited and deleted deals and posted late ones; reconcile repairs the store.
        await mt5.stopped()
        await mt4.stopped()
        mt5 = try await SimulatorProcess.launch(platform: "mt5", days: days, dealsPerDay: dealsPerDay, seed: 31, mutateAfterSeconds: 0)
        mt4 = try await SimulatorProcess.launch(platform: "mt4", days: days, dealsPerDay: dealsPerDay, seed: 32, mutateAfterSeconds: 0)
        defer {
            mt5.stop()
            mt4.stop()
        }
        config = try writeConfig(databaseURL: database.url, servers: [mt5, mt4], queueURL: queueURL, endpoint: endpoint, folder: mt5.folder)
        try await Task.sleep(for: .milliseconds(1_200))  // --mutate-after 0 switches at the simulator's first tick
        for server in [mt5, mt4] {
            let repair = try await CLI.launch(
                ["reconcile", "--server", server.serverID, "--from", "2025-01-01", "--to", "2025-01-0\(1 + days)", "--repair", "--config", config.path],
                environment: environment)
            #expect(repair.status == 0, "\(repair.stdout)\(repair.stderr)")
        }
        let run1 = try await CLI.launch(["feed", "run", "--once", "--config", config.path], environment: environment)
        #expect(run1.status == 0, "\(run1.stdout)\(run1.stderr)")
        let second = try await receive(queueURL, client: sqs)
        let expected1 = expected(datasets, generation: 1, customers: customers)
        #expect(expected1 != expected0, "generation 1 changed some days")
        // Only the days whose figures changed went again, each whole, under a new batch id.
        let resent = Set(second.flatMap { $0.rows.map(\.0) })
        let changed = Set(expected0.keys).union(expected1.keys).filter { expected0[$0] != expected1[$0] }
        #expect(resent == changed, "resent \(resent.subtracting(changed).sorted().prefix(5)) unchanged; missed \(changed.subtracting(resent).sorted().prefix(5))")
        // Among them: the days that late postings changed after they were sent (MT5 deposits and MT4 closed trades
        // with the day's time), and a day a deleted closing deal lowered.
        var lateDays = Set<Key>()
        for offset in 0..<Int64(days) {
            let day = 20_089 + offset, date = SimulatedDataset.date(daysSince1970: day)
            let logins = datasets[0].1.mutations(onDay: day).late.map { (datasets[0].0, $0.login) }
                + datasets[1].1.tradeMutations(onDay: day).late.map { (datasets[1].0, $0.record.login) }
            for (server, login) in logins {
                if let login, let customer = customers["\(server):\(login)"] { lateDays.insert(Key(customer: customer, date: date)) }
            }
        }
        #expect(!lateDays.isEmpty, "the datasets post late on a mapped login")
        #expect(lateDays.isSubset(of: resent), "every day a late posting changed went again: \(lateDays.subtracting(resent).sorted())")
        #expect(lateDays.allSatisfy { expected1[$0] != expected0[$0] })
        #expect(changed.contains { (expected1[$0]?.lots ?? .zero) < (expected0[$0]?.lots ?? .zero) }, "a deleted deal changed a past day")
        #expect(Set(second.map(\.batchID)).isDisjoint(with: first.map(\.batchID)))
        upserted(second, into: &platform)
        compare(platform, expected1, "generation 1")

        // The operator maps the unmapped logins: their held days go out.
        let csv = "server,login,customer_id\n" + unmapped.map { entry in
            let parts = entry.split(separator: ":")
            return "\(parts[0]),\(parts[1]),NEW-\(parts[1])\n"
        }.joined()
        let file = mt5.folder.appending(path: "customers.csv")
        try Data(csv.utf8).write(to: file)
        let imported = try await CLI.launch(["accounts", "import", file.path, "--by", "ops-anna", "--config", config.path], environment: environment)
        #expect(imported.status == 0, "\(imported.stdout)\(imported.stderr)")
        let run2 = try await CLI.launch(["feed", "run", "--once", "--config", config.path], environment: environment)
        #expect(run2.status == 0, "\(run2.stdout)\(run2.stderr)")
        for entry in unmapped { customers[entry] = "NEW-\(entry.split(separator: ":")[1])" }
        let third = try await receive(queueURL, client: sqs)
        #expect(third.allSatisfy { $0.rows.allSatisfy { $0.0.customer.hasPrefix("NEW-") } }, "only the released customers' rows")
        upserted(third, into: &platform)
        compare(platform, expected(datasets, generation: 1, customers: customers), "after accounts import")

        let login = String(unmapped[0].split(separator: ":")[1])
        let shown = try await CLI.launch(["accounts", "show", login, "--config", config.path, "--json"], environment: environment)
        #expect(shown.status == 0 && shown.stdout.contains("NEW-\(login)") && shown.stdout.contains("ops-anna"), "\(shown.stdout)\(shown.stderr)")
        let after = try await CLI.launch(["status", "--database-url", database.url, "--json"])
        let feedAfter = (try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])?["feed"] as? [String: Any]
        #expect(feedAfter?["held_logins"] as? Int == 0)
        #expect(feedAfter?["batches_pending"] as? Int == 0)

        // The platform lost a day: `feed resend` queues its rows again, unchanged as they are, under new batch ids.
        let lost = platform.filter { $0.key.date == previewDate && !$0.value.isZero }
        let resend = try await CLI.launch(["feed", "resend", "--from", previewDate, "--to", previewDate, "--config", config.path, "--json"], environment: environment)
        #expect(resend.status == 0, "\(resend.stdout)\(resend.stderr)")
        let run3 = try await CLI.launch(["feed", "run", "--once", "--config", config.path], environment: environment)
        #expect(run3.status == 0, "\(run3.stdout)\(run3.stderr)")
        let fourth = try await receive(queueURL, client: sqs)
        var again: [Key: Figures] = [:]
        upserted(fourth, into: &again)
        #expect(again.filter { !$0.value.isZero } == lost, "the day's rows again, the same figures")
        #expect(Set(fourth.map(\.batchID)).isDisjoint(with: (first + second + third).map(\.batchID)), "under new batch ids")
    }

    static let apiKey = "feed-test-api-key-7f3a9c2e1b"

    /// One MT5 simulator synced with its accounts, a configuration with the file ingest at `fileIngestURL`.
    static func syncedWithFileIngest(
        _ httpClient: HTTPClient, fileIngestURL: String, maxRows: Int = 7, aboveRows: Int = 2_000, extraFeed: String = ""
    ) async throws -> (SimulatorProcess, TestDatabase, URL, [String: String]) {
        let sqs = try LocalSQS.client(httpClient)
        let queueURL = try await LocalSQS.createQueue(LocalSQS.uniqueName("feed-files"), client: sqs)
        let simulator = try await SimulatorProcess.launch(platform: "mt5", days: days, dealsPerDay: 200, seed: 41)
        let database = try await TestDatabase.create()
        let migrate = try await CLI.launch(["migrate", "--database-url", database.url])
        #expect(migrate.status == 0, "\(migrate.stderr)")
        let config = try writeConfig(
            databaseURL: database.url, servers: [simulator], queueURL: queueURL, endpoint: try LocalSQS.endpoint(), folder: simulator.folder,
            extraFeed: """
                  file_ingest:
                    url: \(fileIngestURL)
                    api_key_env: MTSYNC_TEST_FEED_API_KEY
                    max_rows: \(maxRows)
                    above_rows: \(aboveRows)
                """ + extraFeed)
        let environment = simulator.environment.merging(LocalSQS.processEnvironment) { $1 }.merging(["MTSYNC_TEST_FEED_API_KEY": apiKey]) { $1 }
        let accounts = try await CLI.launch(["accounts", "sync", "--config", config.path], environment: environment)
        #expect(accounts.status == 0, "\(accounts.stdout)\(accounts.stderr)")
        return (simulator, database, config, environment)
    }

    @Test("backfill --feed uploads the range's days as CSV files: 500 and 429 then success, each batch accepted once, CSV and metadata exactly as recorded, a rerun uploads nothing")
    func backfillThroughFileIngest() async throws {
        try await Self.withHTTPClient { httpClient in
            try await FileIngestServer.run(apiKey: Self.apiKey, faults: [500, 429]) { server in
                let (simulator, database, config, environment) = try await Self.syncedWithFileIngest(httpClient, fileIngestURL: server.url)
                defer { simulator.stop() }
                let backfill = ["backfill", "--server", simulator.serverID, "--from", "2025-01-01", "--to", "2025-01-03", "--feed", "--config", config.path]
                let first = try await CLI.launch(backfill + ["--json", "--log-level", "trace"], environment: environment)
                #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
                #expect(!(first.stdout + first.stderr).contains(Self.apiKey), "the API key is in no output, even at trace level")
                let uploads = try await server.uploads()
                #expect(!uploads.isEmpty)
                #expect(Set(uploads.map { $0.metadata["batch_id"] ?? "" }).count == uploads.count, "each batch accepted once although the first two tries failed")
                #expect(server.requestLog().components(separatedBy: " POST ").count - 1 >= uploads.count + 2, "the faults were met: \(server.requestLog())")

                let connection = try await database.connect()
                for upload in uploads {
                    let batchID = try #require(upload.metadata["batch_id"])
                    let stored = try await connection.query("SELECT body, sha256, sent_at IS NOT NULL, rows FROM feed_batches WHERE batch_id = \(batchID)")
                    let row = try #require(stored.first)
                    #expect(upload.csvBytes == Array(try row.decode(Data.self, 0)), "the CSV arrived byte for byte")
                    #expect(try row.decode(Bool.self, 2), "recorded as sent")
                    #expect(upload.metadata == ["source": "mtsync-test", "batch_id": batchID])
                    #expect(upload.triggerID == Self.triggerID)
                    #expect(upload.contentType.hasPrefix("text/csv"))
                    let lines = upload.csv.split(separator: "\r\n")
                    #expect(lines.first == "user_id,date,deposit_total,closed_lots")
                    #expect(lines.count - 1 == (try row.decode(Int.self, 3)) && lines.count - 1 <= 7)
                }
                // Every customer day with facts is in exactly one file.
                let keys = uploads.flatMap { $0.csv.split(separator: "\r\n").dropFirst().map { $0.split(separator: ",").prefix(2).joined(separator: ",") } }
                #expect(Set(keys).count == keys.count)
                let rows = try await connection.query("SELECT count(*) FROM feed_rows")[0].decode(Int.self, 0)
                #expect(keys.count == rows)

                let again = try await CLI.launch(backfill, environment: environment)
                #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
                #expect(try await server.uploads().count == uploads.count, "a rerun of the same backfill uploads nothing")
            }
        }
    }

    static let snapshotTrigger = "75f0c1e2a9b8c7d6e5f4a3b9"

    @Test("backfill --snapshots uploads the range's tier snapshots as CSV files under their own trigger id, a rerun uploads nothing new; feed preview --snapshots prints the rows as sent and sends nothing")
    func snapshotsThroughFileIngest() async throws {
        try await Self.withHTTPClient { httpClient in
            try await FileIngestServer.run(apiKey: Self.apiKey, faults: []) { server in
                let (simulator, database, config, environment) = try await Self.syncedWithFileIngest(
                    httpClient, fileIngestURL: server.url, extraFeed: "\n  snapshots: { trigger_id: \(Self.snapshotTrigger), source: mtsync-tiers }\n")
                defer { simulator.stop() }
                let backfill = ["backfill", "--server", simulator.serverID, "--from", "2025-01-01", "--to", "2025-01-03", "--snapshots", "--config", config.path]
                let first = try await CLI.launch(backfill + ["--json"], environment: environment)
                #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
                let uploads = try await server.uploads().filter { $0.triggerID == Self.snapshotTrigger }
                #expect(!uploads.isEmpty)
                #expect(uploads.allSatisfy { $0.metadata["source"] == "mtsync-tiers" && $0.csv.hasPrefix("user_id,date,balance,credit,equity,net_deposits,closed_lots,closed_lots_30d,open_lots,active_accounts,balance_source\r\n") })
                let connection = try await database.connect()
                let rows = try await connection.query("SELECT count(*) FROM snapshot_rows")[0].decode(Int.self, 0)
                let uploadedRows = uploads.flatMap { $0.csv.split(separator: "\r\n").dropFirst() }
                #expect(rows > 0 && uploadedRows.count == rows, "every snapshot row uploaded once")
                #expect(try await connection.query("SELECT count(*) FROM daily_records")[0].decode(Int.self, 0) > 0, "the backfill read the range's daily records")
                #expect(uploadedRows.allSatisfy { $0.hasSuffix(",daily") }, "balances from the daily records")

                let again = try await CLI.launch(backfill, environment: environment)
                #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
                #expect(try await server.uploads().filter { $0.triggerID == Self.snapshotTrigger }.count == uploads.count, "a rerun uploads nothing new")

                let preview = try await CLI.launch(["feed", "preview", "--snapshots", "--date", "2025-01-02", "--config", config.path, "--json"], environment: environment)
                #expect(preview.status == 0, "\(preview.stdout)\(preview.stderr)")
                let previewed = try #require(try JSONSerialization.jsonObject(with: Data(preview.stdout.utf8)) as? [String: Any])
                #expect(previewed["trigger_id"] as? String == Self.snapshotTrigger)
                let data = try #require(previewed["data"] as? [[String: Any]])
                let sentForDay = uploadedRows.filter { $0.split(separator: ",")[1] == "2025-01-02" }
                #expect(!data.isEmpty && data.count == sentForDay.count, "the preview shows what was sent for the day")
                #expect(try await server.uploads().filter { $0.triggerID == Self.snapshotTrigger }.count == uploads.count, "a preview sends nothing")
            }
        }
    }

    @Test("kill -9 between sending a batch and recording it: the next run sends the same batch_id with the same bytes, never a new id for the same rows")
    func killBetweenSendAndRecord() async throws {
        try await Self.withHTTPClient { httpClient in
            // The ingest records each upload at once and answers 6 s later: the sender, killed as soon as its upload
            // has arrived, has sent but not recorded.
            try await FileIngestServer.run(apiKey: Self.apiKey, answerDelay: .seconds(6)) { server in
                let (simulator, database, config, environment) = try await Self.syncedWithFileIngest(
                    httpClient, fileIngestURL: server.url, maxRows: 10_000, aboveRows: 1)
                defer { simulator.stop() }
                let sync = try await CLI.launch(["sync", "--config", config.path], environment: environment)
                #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
                let killed = try await CLI.killed(["feed", "run", "--once", "--config", config.path], environment: environment, when: {
                    try await !server.uploads().isEmpty
                })
                #expect(killed, "the sender was still waiting for the answer")
                let sentBefore = try await server.uploads()
                #expect(sentBefore.count == 1, "one upload reached the ingest before the kill")
                let connection = try await database.connect()
                #expect(try await connection.query("SELECT count(*) FROM feed_batches WHERE sent_at IS NOT NULL")[0].decode(Int.self, 0) == 0, "none recorded as sent")
                let batches = try await connection.query("SELECT count(*) FROM feed_batches")[0].decode(Int.self, 0)

                try await Task.sleep(for: .seconds(2.5))  // claim_for 2s: the killed sender's claim lapses
                let rerun = try await CLI.launch(["feed", "run", "--once", "--log-level", "trace", "--config", config.path], environment: environment)
                #expect(rerun.status == 0, "\(rerun.stdout)\(rerun.stderr)")
                #expect(!(rerun.stdout + rerun.stderr).contains(Self.apiKey), "the API key is in no output, even at trace level")
                let uploads = try await server.uploads()
                #expect(uploads.count == batches + 1, "every batch once, the interrupted one twice")
                let first = try #require(sentBefore.first)
                let resent = uploads.dropFirst().filter { $0.metadata["batch_id"] == first.metadata["batch_id"] }
                #expect(resent.count == 1 && resent.first?.csvBytes == first.csvBytes, "the same batch_id again, with the same bytes")
                #expect(Set(uploads.map { $0.metadata["batch_id"] ?? "" }).count == batches, "no new batch_id for the same rows")
                #expect(try await connection.query("SELECT count(*) FROM feed_batches WHERE sent_at IS NULL")[0].decode(Int.self, 0) == 0)
            }
        }
    }
}
