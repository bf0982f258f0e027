import Foundation
import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncEngine
import MTSyncIngest
import MTSyncStore
import MTSyncTestSupport
import Testing

/// Tier snapshots against the real components: an MT5 and an MT4 reference bridge over loopback TCP (daily records,
/// accounts with money, reversals), a real PostgreSQL, and rows compared with values computed from the simulators'
/// own ground truth (not mtsync's code).
@Suite("Tier snapshots: one row per customer per trading day, equal to the simulators' ground truth")
struct TierSnapshotTests {
    static let key = try! BridgeKey(id: "snapshot-test", hex: String(repeating: "5d", count: 32))
    static let trigger = "75f0c1e2a9b8c7d6e5f4a3b9"
    static let eurRate = ExactDecimal(parsing: "1.1")!
    static let cent = ExactDecimal(parsing: "0.01")!
    static let filter = AccountFilter(groupMasks: ["!demo*"])

    static func settings() -> DailyFeedSettings {
        var policies: [String: AccountPolicy] = [:]
        for server in ["sim-mt5", "sim-mt4"] { policies[server] = AccountPolicy(filter: filter) }
        return DailyFeedSettings(
            rules: DailyFeedRules(centGroups: ["*cent*"], centFactor: cent, rates: ["EUR": eurRate]),
            envelope: DailyFeedEnvelope(triggerID: "65f0c1e2a9b8c7d6e5f4a3b2", source: "test"), day: .nyClose,
            snapshots: TierSnapshotSettings(envelope: DailyFeedEnvelope(triggerID: trigger, source: "test"), policies: policies, customersPerPass: 7))
    }

    /// The row the platform should hold per (customer, date): from each simulator's daily states (balance, credit),
    /// daily truth (closed volume, deposits) and position replay (open volume, trades), demo logins left out, cent
    /// accounts × 0.01, EUR × 1.1, money rounded to cents after the customer's sum.
    static func expected(_ datasets: [(server: String, dataset: SimulatedDataset)], generation: Int) -> [String: [String: String]] {
        struct Sums { var balance = ExactDecimal.zero, credit = ExactDecimal.zero, net = ExactDecimal.zero, closed = ExactDecimal.zero
            var closed30 = ExactDecimal.zero, open = ExactDecimal.zero, active = 0 }
        var rows: [String: Sums] = [:]
        for (_, dataset) in datasets {
            let feed = dataset.dailyTruth(generation: generation), states = dataset.dailyStates(generation: generation)
            let positions = dataset.positionTruth(generation: generation)
            let days = dataset.configuration.firstDay..<dataset.configuration.firstDay + Int64(dataset.configuration.days)
            for account in dataset.accounts where !account.isDemo {
                guard let customer = account.clientID else { continue }
                let isCent = account.group.contains("cent")
                let money = isCent ? cent : account.currency == "EUR" ? eurRate : ExactDecimal(1), lots = isCent ? cent : ExactDecimal(1)
                var net = ExactDecimal.zero
                for day in days {
                    let key = SimulatedDataset.DailyTruthKey(login: account.login, day: day)
                    let truth = feed[key] ?? .init(), state = states[key] ?? .init()
                    net = net.adding(ExactDecimal(Int128(truth.depositCents - truth.withdrawalCents), scale: 2)!)!
                    var window = ExactDecimal.zero, traded = false
                    for earlier in max(days.lowerBound, day - 29)...day {
                        let other = SimulatedDataset.DailyTruthKey(login: account.login, day: earlier)
                        window = window.adding(ExactDecimal(Int128(feed[other]?.closedVolumeExt ?? 0), scale: 8)!)!
                        traded = traded || (positions[other]?.trades ?? 0) > 0
                    }
                    var sums = rows["\(customer)@\(key.date)", default: Sums()]
                    sums.balance = sums.balance.adding(ExactDecimal(Int128(state.balanceCents), scale: 2)!.multiplied(by: money)!)!
                    sums.credit = sums.credit.adding(ExactDecimal(Int128(state.creditCents), scale: 2)!.multiplied(by: money)!)!
                    sums.net = sums.net.adding(net.multiplied(by: money)!)!
                    sums.closed = sums.closed.adding(ExactDecimal(Int128(truth.closedVolumeExt), scale: 8)!.multiplied(by: lots)!)!
                    sums.closed30 = sums.closed30.adding(window.multiplied(by: lots)!)!
                    sums.open = sums.open.adding(ExactDecimal(Int128(positions[key]?.openVolumeExt ?? 0), scale: 8)!.multiplied(by: lots)!)!
                    if traded { sums.active += 1 }
                    rows["\(customer)@\(key.date)"] = sums
                }
            }
        }
        return rows.mapValues { sums in
            let balance = sums.balance.rounded(scale: 2), credit = sums.credit.rounded(scale: 2)
            return [
                "balance": DailyFeedRow.money(balance), "credit": DailyFeedRow.money(credit), "equity": DailyFeedRow.money(sums.balance.adding(sums.credit)!.rounded(scale: 2)),
                "net_deposits": DailyFeedRow.money(sums.net.rounded(scale: 2)), "closed_lots": sums.closed.rounded(scale: 8).description,
                "closed_lots_30d": sums.closed30.rounded(scale: 8).description, "open_lots": sums.open.rounded(scale: 8).description,
                "active_accounts": String(sums.active), "balance_source": "daily",
            ]
        }
    }

    /// The platform's view: the last queued row per (customer, date), as sent.
    static func queued(_ connection: PostgresConnection) async throws -> [String: [String: String]] {
        var rows: [String: [String: String]] = [:]
        for row in try await connection.query("SELECT customer_id, day::text, figures::text FROM snapshot_rows") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(try row.decode(String.self, 2).utf8)) as? [String: Any])
            var figures: [String: String] = [:]
            for (name, value) in object where name != "accounts" && name != "user_id" && name != "date" {
                figures[name] = (value as? String) ?? (value as? NSNumber).map { "\($0)" }
            }
            rows["\(try row.decode(String.self, 0))@\(try row.decode(String.self, 1))"] = figures
        }
        return rows
    }

    /// What a row's figures text says, compared as exact decimals (the JSON parser reads numbers its own way).
    static func same(_ received: [String: String], _ expected: [String: String]) -> Bool {
        expected.allSatisfy { name, value in
            guard let got = received[name] else { return false }
            if let left = ExactDecimal(parsing: got), let right = ExactDecimal(parsing: value) { return left.subtracting(right)?.isZero == true }
            return got == value
        } && received.count == expected.count
    }

    @Test("every customer's every day: closing balances from the daily records, deposits to date, closed lots of the day and 30 days, open lots, active accounts; a late change re-sends only the days it alters")
    func snapshotsEqualGroundTruth() async throws {
        let mt5 = SimulatedDataset(.init(seed: 41, serverID: "sim-mt5", days: 3, dealsPerDay: 200, logins: 14, platform: .mt5))
        let mt4 = SimulatedDataset(.init(seed: 42, serverID: "sim-mt4", days: 3, dealsPerDay: 200, logins: 14, platform: .mt4))
        let simulators = [BridgeSimulator(dataset: mt5, key: Self.key), BridgeSimulator(dataset: mt4, key: Self.key)]
        let (_, connection) = try await TestDatabase.migrated()
        let datasets = [("sim-mt5", mt5), ("sim-mt4", mt4)]
        try await SimulatorHarness.run(simulators[0]) { mt5Port in
            try await SimulatorHarness.run(simulators[1]) { mt4Port in
                var syncs: [ServerSync] = []
                for (dataset, port) in [(mt5, mt5Port), (mt4, mt4Port)] {
                    let settings = ServerSettings(server: try ServerID(dataset.configuration.serverID), platform: dataset.configuration.platform, zone: ServerTimeZone("ny-close")!, filter: Self.filter)
                    let sync = ServerSync(
                        client: BridgeClient(endpoint: BridgeEndpoint(host: "127.0.0.1", port: port, key: Self.key), retryPolicy: .init(baseDelay: .milliseconds(5), maximumDelay: .milliseconds(50), maximumAttempts: 20)),
                        connection: connection, batcher: RecordBatcher(normalizer: Normalizer(settings: settings)),
                        settings: ServerSyncSettings(startMilliseconds: dataset.range.lowerBound, pageSize: 150))
                    try await sync.register()
                    syncs.append(sync)
                }
                for sync in syncs { _ = try await sync.pull() }
                #expect(try await connection.query("SELECT count(*) FROM daily_records")[0].decode(Int.self, 0) == 2 * 14 * 3)

                let settings = Self.settings()
                let feed = DailyFeedBuilder(settings: settings, connection: connection)
                let snapshots = TierSnapshotBuilder(settings: settings, snapshots: settings.snapshots!, connection: connection)
                // Long after the range: every day has closed.
                let later = Date(timeIntervalSince1970: Double(mt5.range.upperBound) / 1000 + 30 * 86_400)
                _ = try await feed.build()
                let first = try await snapshots.build(now: later)
                let expected0 = Self.expected(datasets, generation: 0)
                var received = try await Self.queued(connection)
                #expect(first.rowsQueued == expected0.count && first.customersHeld == 0,
                        "\(first); not expected: \(Set(received.keys).subtracting(expected0.keys).sorted().prefix(5)), not queued: \(Set(expected0.keys).subtracting(received.keys).sorted().prefix(5))")
                let differing = expected0.keys.filter { !Self.same(received[$0] ?? [:], expected0[$0]!) }.sorted()
                #expect(differing.isEmpty, "\(differing.prefix(3).map { "\($0): got \(received[$0] ?? [:]), want \(expected0[$0]!)" })")

                // The batches carry the snapshots' own trigger id, in the platform's envelope.
                let bodies = try await connection.query("SELECT convert_from(body, 'UTF8') FROM feed_batches WHERE feed = 'snapshots'").map { try $0.decode(String.self, 0) }
                #expect(!bodies.isEmpty && bodies.allSatisfy { $0.hasPrefix("{\"trigger_id\":\"\(Self.trigger)\",\"metadata\":{\"source\":\"test\",\"batch_id\":\"mtsync-") })

                // Nothing changed: another round queues nothing.
                _ = try await feed.build()
                #expect(try await snapshots.build(now: later).rowsQueued == 0)

                // Generation 1 (edits, deletions, late deals): the pulls and a reconcile with repair, then only the
                // rows whose figures changed go again, under their next revision.
                for simulator in simulators { simulator.setGeneration(1) }
                for (sync, dataset) in zip(syncs, [mt5, mt4]) {
                    _ = try await sync.pull()
                    _ = try await sync.reconcile(fromMilliseconds: dataset.range.lowerBound, toMilliseconds: dataset.range.upperBound, repair: true)
                }
                // The daily records are read again (a day's record is recomputed after late deals).
                try await connection.query("UPDATE sync_cursors SET last_success_at = now() - interval '1 day' WHERE stream = 'daily'")
                for sync in syncs { _ = try await sync.pull() }
                _ = try await feed.build()
                let second = try await snapshots.build(now: later)
                let expected1 = Self.expected(datasets, generation: 1)
                received = try await Self.queued(connection)
                let changed = expected1.keys.filter { expected0[$0] != expected1[$0] }
                #expect(!changed.isEmpty && second.rowsQueued == changed.count, "queued \(second.rowsQueued), changed \(changed.count): \(changed.sorted())")
                let differing1 = expected1.keys.filter { !Self.same(received[$0] ?? [:], expected1[$0]!) }.sorted()
                #expect(differing1.isEmpty, "\(differing1.prefix(3).map { "\($0): got \(received[$0] ?? [:]), want \(expected1[$0]!)" })")
                let revised = try await connection.query("SELECT count(*) FROM snapshot_rows WHERE revision = 2")[0].decode(Int.self, 0)
                #expect(revised == changed.count)

                // A backfill of the range sends every row whole, as files, at their current revisions: a rerun uploads nothing new.
                var fileSettings = settings
                fileSettings.fileAboveRows = 0
                let files = TierSnapshotBuilder(settings: fileSettings, snapshots: settings.snapshots!, connection: connection)
                let range = try await files.queueRange(fromDay: "2025-01-01", toDay: "2025-01-03", servers: ["sim-mt5"], origin: "test", now: later)
                #expect(range.filesQueued > 0 && range.rowsQueued == expected1.count)
                let again = try await files.queueRange(fromDay: "2025-01-01", toDay: "2025-01-03", servers: ["sim-mt5"], origin: "test", now: later)
                let fileBatches = try await connection.query("SELECT count(*) FROM feed_batches WHERE feed = 'snapshots' AND transport = 'file'")[0].decode(Int.self, 0)
                #expect(again.rowsQueued == range.rowsQueued && fileBatches == range.filesQueued, "the same rows at the same revisions are the same files")
            }
        }
    }

    @Test("reconcile --repair reads its range's end-of-day records again: a closing balance the trade server recomputed after the dealer's edits reaches the snapshots, even beyond the daily stream's week of lookback")
    func repairingReconcileReadsDailyRecords() async throws {
        let dataset = SimulatedDataset(.init(seed: 43, serverID: "sim-mt5", days: 2, dealsPerDay: 100, logins: 6, platform: .mt5))
        let (_, connection) = try await TestDatabase.migrated()
        try await SimulatorHarness.run(BridgeSimulator(dataset: dataset, key: Self.key)) { port in
            let settings = ServerSettings(server: try ServerID("sim-mt5"), platform: .mt5, zone: ServerTimeZone("ny-close")!, filter: Self.filter)
            let sync = ServerSync(
                client: BridgeClient(endpoint: BridgeEndpoint(host: "127.0.0.1", port: port, key: Self.key)), connection: connection,
                batcher: RecordBatcher(normalizer: Normalizer(settings: settings)), settings: ServerSyncSettings(startMilliseconds: dataset.range.lowerBound, pageSize: 150))
            try await sync.register()
            _ = try await sync.pull()
            // What the store holds differs from what the trade server says now (as after a recomputed day).
            let stale = try await connection.query("UPDATE daily_records SET balance = balance + 1 WHERE day = '2025-01-01' RETURNING login").count
            try #require(stale == dataset.accounts.count)
            _ = try await connection.query("DELETE FROM snapshot_customers_dirty")

            let compared = try await sync.reconcile(fromMilliseconds: dataset.range.lowerBound, toMilliseconds: dataset.range.upperBound, repair: false)
            #expect(compared.dailyRecordsRead == 0, "a reconcile that only compares reads nothing again")
            let repaired = try await sync.reconcile(fromMilliseconds: dataset.range.lowerBound, toMilliseconds: dataset.range.upperBound, repair: true)
            #expect(repaired.differing.isEmpty)
            #expect(repaired.dailyRecordsRead == 2 * dataset.accounts.count && repaired.dailyRecordsChanged == stale)
            let states = dataset.dailyStates(generation: 0)
            for row in try await connection.query("SELECT login, (balance * 100)::bigint FROM daily_records WHERE day = '2025-01-01'") {
                let key = SimulatedDataset.DailyTruthKey(login: UInt64(try row.decode(Int64.self, 0)), day: dataset.configuration.firstDay)
                #expect(try row.decode(Int64.self, 1) == states[key]?.balanceCents)
            }
            let marked = try await connection.query("SELECT count(*) FROM snapshot_customers_dirty WHERE from_day <= '2025-01-01'")[0].decode(Int.self, 0)
            #expect(marked == dataset.accounts.filter { $0.clientID != nil }.count, "every mapped customer's snapshots are decided again from that day")
        }
    }
}
