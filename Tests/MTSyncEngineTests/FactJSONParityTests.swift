import Foundation
import MTBridgeSimulator
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import MTSyncTestSupport
import Testing

/// The fact's JSON shape has one source of truth: `TradingFact+JSON.swift` (Core), what `mtsync normalize` prints.
/// The outbox payload is rendered by SQL from the stored row (`FactStore.payloadSQL`: set-based in the page's
/// transaction, with the revision the merge assigned); these tests hold that rendering to the Swift shape, field by
/// field and byte for byte in every value, so the two cannot drift.
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

            let rows = try await fixture.connection.query("SELECT idempotency_key, payload::text FROM outbox WHERE event_kind = 'fact.created' ORDER BY event_id")
            try #require(rows.count > 50)
            for row in rows {
                let key = try row.decode(String.self, 0)
                var payload = try Self.object(Data(try row.decode(String.self, 1).utf8))
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

    /// A JSON value as text, so a string "1" and a number 1, or a number and a boolean, stay apart.
    static func text(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
    }

    static func object(_ data: Data) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}
