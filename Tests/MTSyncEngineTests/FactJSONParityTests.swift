import Foundation
import MTBridgeSimulator
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import MTSyncTestSupport
import Testing

/// The fact's JSON shape has one source of truth: `TradingFact+JSON.swift` (Core), what `mtsync normalize` prints.
/// A fact event's payload is built by the relay from the stored row (`Outbox.claim`, `TradingFact.eventPayload`,
/// migration 0020); deletions, re-decisions and resends render it in SQL (`FactStore.payloadSQL`). These tests hold
/// both to the Swift shape, field by field and byte for byte in every value, so none can drift.
@Suite("The outbox payload is the fact's JSON shape (TradingFact+JSON), rendered by the store")
struct FactJSONParityTests {
    /// The fields only an outbox event carries, beyond the fact: its deletion state and an MT4 open leg's closed lots.
    static let storeOnly: Set<String> = ["deleted", "excluded", "closed_lots"]

    @Test("every fact.created payload equals the Swift encoding of the same normalized record, nulls left out", arguments: [Platform.mt5, .mt4])
    func payloadEqualsSwiftShape(platform: Platform) async throws {
        let fixture = try await SyncFixture(platform: platform, days: 1, dealsPerDay: 120)
        let dataset = fixture.dataset
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try fixture.sync(port: port)
            try await sync.register()
            _ = try await sync.pull()

            // The same records through the same normalizer (with the server's symbols, as the pull had them); the
            // store sets the account's currency when it decides.
            let symbols = try await ServerSymbols.load(server: sync.serverID.rawValue, on: fixture.connection)
            let normalizer = sync.batcher.with(serverSymbols: symbols).normalizer
            let outcomes: [NormalizationOutcome] = platform == .mt5
                ? dataset.deals(fromMilliseconds: dataset.range.lowerBound, toMilliseconds: dataset.range.upperBound, after: nil, limit: 100_000).records.map { normalizer.normalize($0) }
                : (dataset.closedTrades(onDay: dataset.configuration.firstDay) + dataset.openTrades()).map { normalizer.normalize($0.record) }
            var expected: [String: [String: Any]] = [:]
            for case .facts(let facts) in outcomes {
                for var fact in facts {
                    fact.currency = dataset.account(login: fact.login)?.currency
                    expected[fact.idempotencyKey] = try Self.object(JSONEncoder().encode(fact)).filter { !($0.value is NSNull) }
                }
            }

            let events = try await Self.claimed(server: sync.serverID.rawValue, on: fixture.connection).filter { $0.kind == "fact.created" }
            try #require(events.count > 50)
            for event in events {
                let key = event.idempotencyKey
                var payload = try Self.object(Data(event.payloadJSON.utf8))
                #expect(payload["deleted"] as? Bool == false && payload["excluded"] == nil, "\(key)")
                payload = payload.filter { !Self.storeOnly.contains($0.key) }
                let swift = try #require(expected[key], "the outbox has \(key), which the normalizer does not make")
                #expect(Set(payload.keys) == Set(swift.keys), "\(key): fields only in the payload \(Set(payload.keys).subtracting(swift.keys)), only in Swift \(Set(swift.keys).subtracting(payload.keys))")
                for (field, value) in swift {
                    let stored = try payload[field].map(Self.text) ?? "nothing", written = try Self.text(value)
                    #expect(stored == written, "\(key).\(field): the store writes \(stored), TradingFact+JSON \(written)")
                }
            }
        }
    }

    /// The events of the store path are sent with the payload the relay builds from the stored row
    /// (`TradingFact.eventPayload`): the very text of the fact as normalized, read back through every column; and
    /// deletions, re-decisions and resends render it in SQL from the same row (`FactStore.payloadSQL`). All must be
    /// the same JSON value for every fact, whatever its text fields hold.
    @Test("the payload the relay builds from the stored fact is the normalized fact's, and what SQL renders, for any comment")
    func writtenEqualsRendered() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        let server = try ServerID("live-mt5")
        try await FactStore.register(serverID: server, platform: .mt5, zone: "+02:00", on: connection)
        let batcher = RecordBatcher(normalizer: Normalizer(settings: ServerSettings(
            server: server, platform: .mt5, zone: ServerTimeZone("+02:00")!, filter: AccountFilter(unknownGroup: .include))))
        let comments = ["plain", "quote \" and backslash \\", "line\nbreak\ttab\rreturn", "controls \u{1}\u{8}\u{c}\u{1f} DEL \u{7f}",
                        "Ünïcødé €, 中文, 🚀", "separators \u{2028}\u{2029}", "ends with \\", "{\"json\": [1, 2]}", ""]
        let now = try await connection.query("SELECT (extract(epoch FROM now()) * 1000)::bigint")[0].decode(Int64.self, 0)
        let deals = comments.enumerated().map { index, comment in
            MT5DealRecord(fields: [
                "Deal": "\(800_000 + index)", "Login": "\(1001 + index % 3)", "Action": "\(index % 2)", "Entry": "\(index % 2)",
                "TimeMsc": "\(now - Int64(index) * 3_600_000)", "Symbol": "EURUSD.m", "VolumeExt": "\(10_000_000 * (index + 1))",
                "Price": "1.0\(index)", "Profit": "-\(index).25", "Commission": "-0.70", "Comment": comment, "Order": "\(900_000 + index)",
            ])
        }
        let batch = batcher.batch(deals: deals, cursor: nil)
        let stored = try await connection.transaction { connection in try FactStore.store(batch, on: connection) }
        #expect(stored.inserted == comments.count)

        let events = try await Self.claimed(server: server.rawValue, on: connection)
        #expect(events.count == comments.count && events.allSatisfy { $0.kind == "fact.created" })
        // The page's facts as normalized (decided by their account in the store: none here, so as they are).
        let normalized = Dictionary(uniqueKeysWithValues: (batch.facts + batch.undecided.flatMap(\.facts)).map { fact in
            var fact = fact
            fact.revision = 1
            return (fact.idempotencyKey, fact.eventPayload(contentHash: fact.contentHash))
        })
        for event in events {
            #expect(event.payloadJSON == normalized[event.idempotencyKey], "\(event.idempotencyKey): sent \(event.payloadJSON)")
            let rendered = try await connection.query(PostgresQuery(sql: """
                SELECT $1::jsonb = \(FactStore.payloadSQL), \(FactStore.payloadSQL)::text FROM trading_facts WHERE idempotency_key = $2
                """, parameters: [event.payloadJSON, event.idempotencyKey]))
            #expect(try rendered.first?.decode(Bool.self, 0) == true, "\(event.idempotencyKey): sent \(event.payloadJSON), rendered \(String(describing: rendered.first?.text(1)))")
        }
    }

    /// Every pending event of `server` as the relay claims it (payloads built from the stored facts).
    static func claimed(server: String, on connection: PostgresConnection) async throws -> [IngestEvent] {
        try await Outbox.claim(serverID: server, owner: "parity-test", limit: 100_000, claimFor: .seconds(5), on: connection).map(\.event)
    }

    /// A JSON value as text, so a string "1" and a number 1, or a number and a boolean, stay apart.
    static func text(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
    }

    static func object(_ data: Data) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}
