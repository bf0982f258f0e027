import Foundation
import MTSyncCore
import MTSyncEngine
import MTSyncIngest
import MTSyncStore
import MTSyncTestSupport
import Testing

/// A sink in the test's hands: it decides each message's fate with a rule, and records what it acknowledged.
/// (The relay against real ingest servers — an HTTP server and moto's SQS — is tested in the CLI tests; this one
/// pins the relay's bookkeeping exactly.)
final class ScriptedSink: IngestSink, @unchecked Sendable {
    let maximumMessageBytes: Int
    let grouping: MessageGrouping
    private let lock = NSLock()
    private var rule: @Sendable (IngestMessage, Int) -> DeliveryOutcome
    private var calls = 0
    private(set) var acknowledged: [IngestMessage] = []

    init(maximumMessageBytes: Int = 64 * 1024, grouping: MessageGrouping = .none, rule: @escaping @Sendable (IngestMessage, Int) -> DeliveryOutcome = { _, _ in .delivered }) {
        self.maximumMessageBytes = maximumMessageBytes
        self.grouping = grouping
        self.rule = rule
    }

    func deliver(_ messages: [IngestMessage]) async -> [DeliveryOutcome] {
        lock.withLock {
            calls += 1
            return messages.map { message in
                let outcome = rule(message, calls)
                if outcome == .delivered { acknowledged.append(message) }
                return outcome
            }
        }
    }

    var acknowledgedKeys: [String] {
        acknowledgedEvents.map { $0["idempotency_key"] as! String }
    }

    /// The events of the acknowledged messages, in order, as JSON objects.
    var acknowledgedEvents: [[String: Any]] {
        lock.withLock {
            acknowledged.flatMap { message -> [[String: Any]] in
                let json = try! JSONSerialization.jsonObject(with: Data(message.body.utf8)) as! [String: Any]
                return json["events"] as! [[String: Any]]
            }
        }
    }

    /// Each acknowledged event as canonical JSON text (keys sorted): comparable whoever wrote it.
    var acknowledgedEventTexts: [String] {
        acknowledgedEvents.map { String(decoding: try! JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }
    }
}

@Suite("Outbox relay: claims, acknowledgements, retries, dead letters")
struct OutboxRelayTests {
    static let settings = RelaySettings(batchSize: 100, maxAttempts: 3, claimFor: .seconds(60), idleInterval: .milliseconds(50), maximumRetryDelay: .milliseconds(1))

    /// A store holding a synced simulator history, so the outbox holds real events.
    static func syncedStore() async throws -> SyncFixture {
        let fixture = try await SyncFixture(days: 1, dealsPerDay: 120)
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try fixture.sync(port: port)
            try await sync.register()
            _ = try await sync.pull()
        }
        return fixture
    }

    /// `bookkeeping`: a second connection for each round's marks, which then run while the next round is sent.
    /// Rounds of 30 events: the synced store's outbox then takes several.
    static let smallRounds = RelaySettings(batchSize: 30, maxAttempts: 3, claimFor: .seconds(60), idleInterval: .milliseconds(50))

    static func relay(
        _ fixture: SyncFixture, _ sink: ScriptedSink, owner: String = "relay-a", bookkeeping: PostgresConnection? = nil, settings: RelaySettings = settings
    ) -> OutboxRelay {
        OutboxRelay(connection: fixture.connection, bookkeeping: bookkeeping, sink: sink, producer: IngestProducer(instance: "test"), settings: settings, owner: owner)
    }

    @Test("every event is delivered once, in outbox order, each under its idempotency key, and only then marked delivered",
          arguments: [false, true])
    func deliversEverything(marksBesideTheNextRound: Bool) async throws {
        let fixture = try await Self.syncedStore()
        let sink = ScriptedSink()
        let bookkeeping = marksBesideTheNextRound ? try await fixture.database.connect() : nil
        let written = try await fixture.connection.query("SELECT event_id, idempotency_key FROM outbox ORDER BY event_id").map {
            "\(try $0.decode(Int64.self, 0)) \(try $0.decode(String.self, 1))"
        }
        let keys = written.map { String($0.split(separator: " ")[1]) }
        let report = try await Self.relay(fixture, sink, bookkeeping: bookkeeping).drain(serverID: "sim-mt5", platform: .mt5)
        #expect(report.delivered == keys.count && report.rounds >= 2)
        #expect(sink.acknowledgedKeys == keys)
        // A delivered event leaves the outbox for the delivered log (migration 0018): which event, which key, when.
        #expect(try await fixture.count("SELECT count(*) FROM outbox") == 0)
        let logged = try await fixture.connection.query("""
            SELECT event_id, idempotency_key FROM outbox_delivered
            WHERE server_id = 'sim-mt5' AND attempts = 0 AND delivered_at >= created_at ORDER BY event_id
            """).map { "\(try $0.decode(Int64.self, 0)) \(try $0.decode(String.self, 1))" }
        #expect(logged == written)
        // Nothing left: a second drain sends nothing.
        #expect(try await Self.relay(fixture, sink).drain(serverID: "sim-mt5", platform: .mt5).messages == 0)
    }

    @Test("maximumRounds: a drain sends at most that many rounds and leaves the rest pending, untouched", arguments: [false, true])
    func boundedDrain(marksBesideTheNextRound: Bool) async throws {
        let fixture = try await Self.syncedStore()
        let sink = ScriptedSink()
        let bookkeeping = marksBesideTheNextRound ? try await fixture.database.connect() : nil
        let events = try await fixture.count("SELECT count(*) FROM outbox")
        let relay = Self.relay(fixture, sink, bookkeeping: bookkeeping, settings: Self.smallRounds)
        try #require(events > 90)
        let report = try await relay.drain(serverID: "sim-mt5", platform: .mt5, maximumRounds: 2)
        #expect(report.rounds == 2 && report.delivered == 60 && sink.acknowledgedKeys.count == 60)
        #expect(try await fixture.count("SELECT count(*) FROM outbox WHERE attempts = 0") == events - 60)
    }

    @Test("a round the ingest takes nothing of ends the drain; the events after it stay pending, untouched",
          arguments: [false, true])
    func failedRoundEndsTheDrain(marksBesideTheNextRound: Bool) async throws {
        let fixture = try await Self.syncedStore()
        // The second round's message fails; the first and any later ones would pass.
        let sink = ScriptedSink(rule: { _, call in call == 2 ? .retry(reason: "503 from ingest", after: .zero) : .delivered })
        let bookkeeping = marksBesideTheNextRound ? try await fixture.database.connect() : nil
        let events = try await fixture.count("SELECT count(*) FROM outbox")
        let relay = Self.relay(fixture, sink, bookkeeping: bookkeeping, settings: Self.smallRounds)
        try #require(events > 90)
        let report = try await relay.drain(serverID: "sim-mt5", platform: .mt5)
        #expect(report.rounds == 2 && report.delivered == 30 && report.retried == 30)
        #expect(try await fixture.count("SELECT count(*) FROM outbox WHERE attempts = 1 AND last_error = '503 from ingest'") == 30)
        #expect(try await fixture.count("SELECT count(*) FROM outbox WHERE attempts = 0") == events - 60)
        #expect(try await fixture.count("SELECT count(*) FROM outbox_delivered") == 30)
    }

    @Test("a message the ingest did not take is not marked delivered; it is tried again and gets through", arguments: [false, true])
    func retriesUntilDelivered(marksBesideTheNextRound: Bool) async throws {
        let fixture = try await Self.syncedStore()
        // The first two calls fail every message; from the third on, all pass.
        let sink = ScriptedSink(rule: { _, call in call <= 2 ? .retry(reason: "503 from ingest", after: .zero) : .delivered })
        let relay = Self.relay(fixture, sink, bookkeeping: marksBesideTheNextRound ? try await fixture.database.connect() : nil)
        let first = try await relay.drain(serverID: "sim-mt5", platform: .mt5)
        #expect(first.delivered == 0 && first.retried > 0)
        #expect(try await fixture.count("SELECT count(*) FROM outbox_delivered") == 0)
        #expect(try await fixture.count("SELECT count(*) FROM outbox WHERE attempts = 1 AND last_error = '503 from ingest'") == first.retried)
        _ = try await relay.drain(serverID: "sim-mt5", platform: .mt5)
        _ = try await relay.drain(serverID: "sim-mt5", platform: .mt5)
        #expect(try await fixture.count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0)
        #expect(try await fixture.count("SELECT count(*) FROM outbox_delivered WHERE attempts = 2") == first.retried, "the log keeps the failed tries")
        #expect(Set(sink.acknowledgedKeys).count == sink.acknowledgedKeys.count)
    }

    @Test("a poison message is dead-lettered with the ingest's answer; the rest flows; an operator can retry or purge it", arguments: [false, true])
    func poisonIsDeadLettered(marksBesideTheNextRound: Bool) async throws {
        let fixture = try await Self.syncedStore()
        let poison = try await fixture.connection.query("SELECT idempotency_key FROM outbox ORDER BY event_id OFFSET 7 LIMIT 1")[0].decode(String.self, 0)
        // Messages of one event each, so exactly the poison event is refused.
        let sink = ScriptedSink(maximumMessageBytes: 600, rule: { message, _ in
            message.body.contains("\"\(poison)\"") ? .rejected(reason: "422 unprocessable", response: #"{"error":"bad fact"}"#) : .delivered
        })
        let bookkeeping = marksBesideTheNextRound ? try await fixture.database.connect() : nil
        let report = try await Self.relay(fixture, sink, bookkeeping: bookkeeping).drain(serverID: "sim-mt5", platform: .mt5)
        #expect(report.deadLettered == 1)
        #expect(try await fixture.count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 1)
        let letters = try await Outbox.deadLetters(serverID: "sim-mt5", on: fixture.connection)
        #expect(letters.count == 1 && letters[0].idempotencyKey == poison && letters[0].cause == "rejected")
        #expect(letters[0].response == #"{"error":"bad fact"}"#)
        let status = try #require(try await ServerStatus.read(serverID: "sim-mt5", on: fixture.connection).first)
        #expect(status.outbox.parked == 1 && status.outbox.pending == 0)

        #expect(try await Outbox.retryParked(serverID: "sim-mt5", eventIDs: nil, by: "ops@host", on: fixture.connection) == 1)
        #expect(try await Outbox.deadLetters(serverID: "sim-mt5", on: fixture.connection).isEmpty)
        _ = try await Self.relay(fixture, sink).drain(serverID: "sim-mt5", platform: .mt5)
        #expect(try await Outbox.purgeParked(serverID: "sim-mt5", eventIDs: nil, by: "ops@host", on: fixture.connection) == 1)
        #expect(try await fixture.count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0)
        #expect(try await fixture.count("SELECT count(*) FROM dead_letters WHERE resolution = 'purged' AND resolved_by = 'ops@host'") == 1)
    }

    @Test("an event that keeps failing is parked after max_attempts and dead-lettered with its last error")
    func attemptsExhausted() async throws {
        let fixture = try await Self.syncedStore()
        let sink = ScriptedSink(rule: { _, _ in .retry(reason: "timeout", after: .zero) })
        let relay = Self.relay(fixture, sink)
        // A drain stops at a round that delivered nothing; the failing batch is claimed again at its retry time
        // (here at once), so it takes max_attempts drains per batch of events.
        for _ in 0..<(Self.settings.maxAttempts * 5) { _ = try await relay.drain(serverID: "sim-mt5", platform: .mt5) }
        let events = try await fixture.count("SELECT count(*) FROM outbox")
        #expect(try await fixture.count("SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL AND attempts = 3") == events)
        #expect(try await fixture.count("SELECT count(*) FROM dead_letters WHERE cause = 'attempts' AND reason LIKE '%timeout%'") == events)
    }

    @Test("a relay that dies after sending and before marking: the claim expires and the same messages go again, same keys")
    func crashBetweenSendAndMark() async throws {
        let fixture = try await Self.syncedStore()
        // Long enough that the other relay's first drain surely comes while the claim lives, on a loaded CI machine too
        // (300 ms was not: the test failed beside the others).
        let short = RelaySettings(batchSize: 50, maxAttempts: 3, claimFor: .seconds(3), idleInterval: .milliseconds(50))
        // The "crashed" relay: claims and sends, never marks (as if killed right after the send).
        let lostSink = ScriptedSink()
        let claimed = try await Outbox.claim(serverID: "sim-mt5", owner: "dead-relay", limit: 50, claimFor: short.claimFor, on: fixture.connection)
        let packer = MessagePacker(maximumBytes: lostSink.maximumMessageBytes, producer: IngestProducer(instance: "dead"))
        let sent = packer.pack(claimed.map(\.event), server: "sim-mt5", platform: .mt5)
        _ = await lostSink.deliver(sent)

        // While the claim lives, another relay leaves the server alone (a server is sent by one relay at a time).
        let sink = ScriptedSink()
        let other = OutboxRelay(connection: fixture.connection, sink: sink, producer: IngestProducer(instance: "live"), settings: short, owner: "relay-b")
        let events = try await fixture.count("SELECT count(*) FROM outbox")
        #expect(try await other.drain(serverID: "sim-mt5", platform: .mt5).messages == 0)
        #expect(try await fixture.count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == events)
        try await Task.sleep(for: .milliseconds(3_100))
        _ = try await other.drain(serverID: "sim-mt5", platform: .mt5)
        #expect(try await fixture.count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0)
        // The resent messages carry the same message keys as the lost ones.
        let resentKeys = Set(sink.acknowledged.map(\.key))
        #expect(sent.allSatisfy { resentKeys.contains($0.key) })
    }

    @Test("a relay claims the server, not its events: the claim writes no outbox row, and another relay gets nothing until it is given back")
    func claimsTheServer() async throws {
        let fixture = try await Self.syncedStore()
        let connection = fixture.connection
        // Each row's version (xmin) before and after the claim: reading them is all a claim does to the outbox
        // (migration 0017: a per-event stamp rewrote every ~1 KB row once more).
        let versions = "SELECT string_agg(event_id || ':' || xmin::text, ',' ORDER BY event_id) FROM outbox"
        let before = try await connection.query(PostgresQuery(sql: versions))[0].decode(String.self, 0)
        let claimed = try await Outbox.claim(serverID: "sim-mt5", owner: "relay-a", limit: 30, claimFor: .seconds(60), on: connection)
        #expect(claimed.count == 30 && claimed.map(\.eventID) == claimed.map(\.eventID).sorted())
        #expect(try await connection.query(PostgresQuery(sql: versions))[0].decode(String.self, 0) == before)
        #expect(try await fixture.count("SELECT count(*) FROM relay_claims WHERE server_id = 'sim-mt5' AND claimed_by = 'relay-a' AND claimed_until > now()") == 1)

        // Another relay gets none of the server's events; the holder renews and goes on where it was.
        #expect(try await Outbox.claim(serverID: "sim-mt5", owner: "relay-b", limit: 30, claimFor: .seconds(60), on: connection).isEmpty)
        let next = try await Outbox.claim(serverID: "sim-mt5", owner: "relay-a", limit: 30, claimFor: .seconds(60), after: claimed.last!.eventID, on: connection)
        #expect(next.count == 30 && next.first!.eventID > claimed.last!.eventID)

        // Given back (a relay stopping cleanly): the other relay takes the server at once, from the oldest pending event.
        try await Outbox.releaseClaims(owner: "relay-a", on: connection)
        let taken = try await Outbox.claim(serverID: "sim-mt5", owner: "relay-b", limit: 30, claimFor: .seconds(60), on: connection)
        #expect(taken.map(\.eventID) == claimed.map(\.eventID))
        #expect(try await fixture.count("SELECT count(*) FROM relay_claims WHERE claimed_by = 'relay-b'") == 1)
    }

    @Test("a relay whose session ended (killed) gives its servers up at once; while it lives, they stay its own for claim_for")
    func deadRelaysServersAreTakenAtOnce() async throws {
        let fixture = try await Self.syncedStore()
        let dying = try await fixture.database.connect()
        // The relay about to die: the ingest takes nothing from it, so its events stay pending under its claim (a minute).
        let failing = ScriptedSink(rule: { _, _ in .retry(reason: "503 from ingest", after: .zero) })
        let first = OutboxRelay(connection: dying, sink: failing, producer: IngestProducer(instance: "a"), settings: Self.settings, owner: "relay-a")
        #expect(try await first.drain(serverID: "sim-mt5", platform: .mt5).retried > 0)
        let sink = ScriptedSink()
        let second = Self.relay(fixture, sink, owner: "relay-b")
        #expect(try await second.drain(serverID: "sim-mt5", platform: .mt5).messages == 0, "a live relay's claim holds")

        await dying.close()  // as kill -9 would: the session ends, and its advisory lock with it
        var delivered = 0
        let deadline = ContinuousClock.now + .seconds(10)
        while delivered == 0, ContinuousClock.now < deadline {
            delivered = try await second.drain(serverID: "sim-mt5", platform: .mt5).delivered
            if delivered == 0 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(delivered > 0, "the dead relay's server was taken long before its claim's minute was up")
        #expect(try await fixture.count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0)
        #expect(try await fixture.count("SELECT count(*) FROM relay_claims WHERE claimed_by = 'relay-b' AND holder_token IS NOT NULL") == 1)
    }

    @Test("an event claimed one by one by an older mtsync's relay is skipped until that claim expires")
    func honoursAnOlderRelaysEventClaims() async throws {
        let fixture = try await Self.syncedStore()
        let connection = fixture.connection
        // What a relay before migration 0017 wrote: a stamp on each event it was sending.
        try await connection.query("""
            UPDATE outbox SET claimed_by = 'old-relay', claimed_until = now() + interval '1 hour'
            WHERE event_id IN (SELECT event_id FROM outbox ORDER BY event_id LIMIT 10)
            """)
        let sink = ScriptedSink()
        _ = try await Self.relay(fixture, sink).drain(serverID: "sim-mt5", platform: .mt5)
        #expect(try await fixture.count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 10)
        #expect(try await fixture.count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND claimed_by = 'old-relay'") == 10)
        // The old relay died: its claims expire, and the events go.
        try await connection.query("UPDATE outbox SET claimed_until = now() - interval '1 second' WHERE claimed_by = 'old-relay'")
        _ = try await Self.relay(fixture, sink).drain(serverID: "sim-mt5", platform: .mt5)
        #expect(try await fixture.count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0)
    }

    @Test("pruning deletes only deliveries older than the retention, batch by batch, also those an older mtsync marked in the outbox; pending, parked and recent ones stay")
    func pruneDelivered() async throws {
        let fixture = try await Self.syncedStore()
        let connection = fixture.connection
        let ids = try await connection.query("SELECT event_id FROM outbox ORDER BY event_id").map { try $0.decode(Int64.self, 0) }
        try #require(ids.count >= 110)
        func list(_ range: Range<Int>) -> String { "{" + ids[range].map(String.init).joined(separator: ",") + "}" }
        // Nine days ago: 50 delivered a day later, 10 still pending, 10 parked, 10 delivered yesterday, 10 delivered
        // by a relay before migration 0018 (marked in the outbox) a day later.
        try await connection.query("UPDATE outbox SET created_at = now() - interval '9 days' WHERE event_id = ANY(\(list(0..<100))::bigint[])")
        try await Outbox.markDelivered(Array(ids[0..<50]) + Array(ids[70..<90]), on: connection)
        try await connection.query("UPDATE outbox_delivered SET delivered_at = now() - interval '8 days' WHERE event_id = ANY(\(list(0..<50))::bigint[])")
        try await connection.query("UPDATE outbox SET parked_at = now() - interval '8 days' WHERE event_id = ANY(\(list(60..<70))::bigint[])")
        try await connection.query("UPDATE outbox_delivered SET delivered_at = now() - interval '1 day' WHERE event_id = ANY(\(list(70..<80))::bigint[])")
        // Today: ten of them delivered a moment ago (80..<90); the older relay's ten.
        try await connection.query("UPDATE outbox SET delivered_at = now() - interval '8 days' WHERE event_id = ANY(\(list(90..<100))::bigint[])")

        let bounded = try await Outbox.pruneDelivered(olderThan: .seconds(7 * 86_400), batchSize: 7, maximumBatches: 2, on: connection)
        #expect(bounded.deleted == 14 && !bounded.finished, "a bounded pass: two batches of 7, then it stops and says so")
        let pruned = try await Outbox.pruneDelivered(olderThan: .seconds(7 * 86_400), batchSize: 7, on: connection)
        #expect(bounded.deleted + pruned.deleted == 60 && pruned.finished)
        let logged = try await connection.query("SELECT event_id FROM outbox_delivered ORDER BY event_id").map { try $0.decode(Int64.self, 0) }
        #expect(logged == Array(ids[70..<90]), "only the 50 delivered eight days ago went from the log")
        let left = try await connection.query("SELECT event_id FROM outbox ORDER BY event_id").map { try $0.decode(Int64.self, 0) }
        #expect(left == Array(ids[50..<70]) + Array(ids[100...]), "and the older relay's ten from the outbox")
        #expect(try await Outbox.pruneDelivered(olderThan: .seconds(7 * 86_400), batchSize: 7, on: connection).deleted == 0, "nothing more")
        #expect(try await Outbox.pruneDelivered(olderThan: .seconds(3_600), on: connection).deleted == 10, "with a shorter retention, yesterday's deliveries go too")
        let pending = try await connection.query("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")[0].decode(Int.self, 0)
        #expect(pending == ids.count - 80, "pending and parked events are never pruned, whatever their age")
    }

    @Test("a fact that changed again before its event went out: the old event is superseded, never sent, and the newer one carries the fact; a round of only superseded events does not end the drain",
          arguments: [false, true])
    func supersededEvents(marksBesideTheNextRound: Bool) async throws {
        let fixture = try await Self.syncedStore()
        // The facts of the first 40 events (more than a round of 30) are deleted before anything is relayed.
        let firstTickets = try await fixture.connection.query("""
            SELECT t.ticket FROM outbox o JOIN trading_facts t USING (fact_id) ORDER BY o.event_id LIMIT 40
            """).map { UInt64(try $0.decode(Int64.self, 0)) }
        let events = try await fixture.count("SELECT count(*) FROM outbox")
        _ = try await fixture.connection.run { connection in
            try FactStore.store(PageBatch(serverID: try ServerID("sim-mt5"), stream: .deals, deletedTickets: firstTickets), on: connection)
        }
        let latest = try await fixture.connection.query("SELECT idempotency_key FROM trading_facts").map { try $0.decode(String.self, 0) }

        let sink = ScriptedSink()
        let bookkeeping = marksBesideTheNextRound ? try await fixture.database.connect() : nil
        let report = try await Self.relay(fixture, sink, bookkeeping: bookkeeping, settings: Self.smallRounds).drain(serverID: "sim-mt5", platform: .mt5)
        let sent = sink.acknowledgedEvents
        #expect(Set(sink.acknowledgedKeys) == Set(latest), "each fact once, at its latest revision")
        #expect(sent.count == latest.count && report.delivered == latest.count)
        #expect(sent.filter { $0["kind"] as? String == "fact.deleted" }.count == firstTickets.count)
        #expect(!sink.acknowledgedKeys.contains { $0.hasSuffix(":1") && firstTickets.contains(UInt64($0.split(separator: ":")[1])!) }, "no superseded revision sent")
        #expect(try await fixture.count("SELECT count(*) FROM outbox") == 0)
        #expect(try await fixture.count("SELECT count(*) FROM outbox_events WHERE delivered_at IS NOT NULL") == events + firstTickets.count,
                "the superseded events are in the delivered log: nothing is left pending")
    }

    @Test("resend: after delivery and pruning, a range of stored facts goes again, each as its latest event with the same key and payload")
    func resendRange() async throws {
        let fixture = try await Self.syncedStore()
        // Events compared as the ingest receives them, as JSON values: a stored fact's first event is built by the
        // relay from the fact, a resend's payload rendered by SQL from the row, members in another order.
        let first = ScriptedSink()
        _ = try await Self.relay(fixture, first).drain(serverID: "sim-mt5", platform: .mt5)
        let original = Set(first.acknowledgedEventTexts)
        #expect(try await fixture.count("SELECT count(*) FROM outbox") == 0, "delivered events leave the outbox")
        // One fact deleted since: its latest event is fact.deleted, under its new key.
        let deletedTicket = try await fixture.connection.query("SELECT ticket FROM trading_facts ORDER BY time_utc LIMIT 1")[0].decode(Int64.self, 0)
        _ = try await fixture.connection.run { connection in
            try FactStore.store(PageBatch(serverID: try ServerID("sim-mt5"), stream: .deals, deletedTickets: [UInt64(deletedTicket)]), on: connection)
        }
        let latest = try await fixture.connection.query("SELECT idempotency_key FROM trading_facts ORDER BY time_utc, fact_id").map { try $0.decode(String.self, 0) }
        // Everything delivered and pruned (the deletion's event too).
        try await fixture.connection.execute(script: "DELETE FROM outbox; DELETE FROM outbox_delivered")

        let everything = try await FactStore.resend(serverID: "sim-mt5", fromMilliseconds: 0, toMilliseconds: 4_102_444_800_000, on: fixture.connection)
        #expect(everything == latest.count)
        let queued = try await fixture.connection.query("SELECT idempotency_key, event_kind, payload::jsonb::text FROM outbox ORDER BY event_id").map {
            [try $0.decode(String.self, 0), try $0.decode(String.self, 1), try $0.decode(String.self, 2)]
        }
        #expect(queued.map { $0[0] } == latest, "the facts' own keys, in time order")
        #expect(queued.filter { $0[1] == "fact.deleted" }.count == 1)

        let again = ScriptedSink()
        let report = try await Self.relay(fixture, again).drain(serverID: "sim-mt5", platform: .mt5)
        #expect(report.delivered == latest.count && again.acknowledgedKeys == latest)
        let resent = zip(again.acknowledgedEvents, again.acknowledgedEventTexts).filter { $0.0["kind"] as? String != "fact.deleted" }.map(\.1)
        #expect(resent.count == latest.count - 1 && resent.allSatisfy { original.contains($0) }, "an unchanged fact goes again exactly as it was first sent")

        // A range and a login narrow it.
        try await fixture.connection.query("DELETE FROM outbox")
        let one = try await fixture.connection.query("SELECT login, (extract(epoch FROM min(time_utc)) * 1000)::bigint FROM trading_facts GROUP BY login ORDER BY login LIMIT 1")[0]
        let login = try one.decode(Int64.self, 0), from = try one.decode(Int64.self, 1)
        let expected = try await fixture.count("SELECT count(*) FROM trading_facts WHERE login = \(login) AND time_utc >= to_timestamp(\(from) / 1000.0)")
        let narrowed = try await FactStore.resend(serverID: "sim-mt5", fromMilliseconds: from, toMilliseconds: 4_102_444_800_000, login: UInt64(login), on: fixture.connection)
        #expect(narrowed == expected && narrowed > 0)
    }
}

