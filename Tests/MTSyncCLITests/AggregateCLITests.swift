import Foundation
import MTSyncStore
import MTSyncTestSupport
import Testing

@Suite("Hourly aggregates: one per trader and UTC hour, re-emitted only when its facts change")
struct AggregateCLITests {
    /// Each stored aggregate against its hour's live facts, summed by PostgreSQL here independently.
    static func mismatches(_ connection: PostgresConnection) async throws -> Int {
        try await connection.query("""
            SELECT count(*) FROM hourly_aggregates a
            LEFT JOIN LATERAL (
                SELECT count(*) AS deals, coalesce(sum(net), 0) AS net,
                       coalesce(sum(lots) FILTER (WHERE kind = 'trade' AND NOT technical), 0) AS lots
                FROM trading_facts f
                WHERE f.server_id = a.server_id AND f.login = a.login AND NOT f.deleted
                  AND f.time_utc >= a.hour_start AND f.time_utc < a.hour_start + interval '1 hour'
            ) f ON true
            WHERE (a.payload->>'deals')::bigint <> f.deals OR (a.payload->>'net')::numeric <> f.net OR (a.payload->>'lots')::numeric <> f.lots
            """)[0].decode(Int.self, 0)
    }

    @Test("a sync then `mtsync aggregate`: every trader-hour once, sums equal to the facts; dealer edits re-emit just the hours they touch, as revision 2")
    func aggregatesFollowTheFacts() async throws {
        let simulator = try SimulatorProcess.start(days: 1, dealsPerDay: 600, seed: 41, mutateAfterSeconds: 45)
        defer { simulator.stop() }
        let started = ContinuousClock.now
        let database = try await TestDatabase.create()
        #expect(try await CLI.launch(["migrate", "--database-url", database.url]).status == 0)
        let ingest = """
            ingest:
              http:
                url: http://127.0.0.1:9/unused
                secret_env: MTSYNC_TEST_INGEST_SECRET
              aggregates:
                grace: 0s
            """
        let config = try simulator.writeConfig(databaseURL: database.url, pageSize: 200, ingest: ingest)
        let environment = simulator.environment.merging(["MTSYNC_TEST_INGEST_SECRET": String(repeating: "k", count: 32)]) { $1 }
        #expect(try await CLI.launch(["sync", "--config", config.path], environment: environment).status == 0)

        let first = try await CLI.launch(["aggregate", "--config", config.path, "--json"], environment: environment)
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        let connection = try await database.connect()
        let hours = try await connection.query("""
            SELECT count(DISTINCT (login, date_trunc('hour', time_utc, 'UTC'))) FROM trading_facts WHERE NOT deleted
            """)[0].decode(Int.self, 0)
        #expect(hours > 20)
        #expect(first.stdout.contains("\"aggregate_events\" : \(hours)"), "\(first.stdout)")
        #expect(try await connection.query("SELECT count(*) FROM outbox WHERE event_kind = 'aggregate.hourly'")[0].decode(Int.self, 0) == hours)
        #expect(try await Self.mismatches(connection) == 0)
        let key = try await connection.query("SELECT idempotency_key FROM outbox WHERE event_kind = 'aggregate.hourly' ORDER BY event_id LIMIT 1")[0].decode(String.self, 0)
        #expect(key.range(of: #"^sim-mt5:agg:\d+:\d{4}-\d{2}-\d{2}T\d{2}:1$"#, options: .regularExpression) != nil, "\(key)")

        // Nothing changed: nothing to emit.
        #expect(try await CLI.launch(["aggregate", "--config", config.path], environment: environment).stdout.contains("0 aggregate.hourly"))

        // The dealer edits and deletes some deals (the simulator's generation 1, 45 s after it started: the steps
        // above must finish before, so a loaded machine gets room); the next sync follows the changes stream.
        #expect(ContinuousClock.now < started + .seconds(45), "the first sync must see the original history")
        try await Task.sleep(until: started + .seconds(46))
        #expect(try await CLI.launch(["sync", "--config", config.path], environment: environment).status == 0)
        let touched = try await connection.query("SELECT count(*) FROM aggregate_hours_dirty")[0].decode(Int.self, 0)
        #expect(touched > 0 && touched < hours + 50, "only the hours the edits touched are marked: \(touched) of \(hours)")
        #expect(try await CLI.launch(["aggregate", "--config", config.path], environment: environment).status == 0)
        #expect(try await Self.mismatches(connection) == 0, "every aggregate equals its hour's live facts after the edits")
        let revised = try await connection.query("SELECT count(*) FROM hourly_aggregates WHERE revision = 2")[0].decode(Int.self, 0)
        #expect(revised > 0 && revised <= touched)
        #expect(try await connection.query("SELECT count(*) FROM outbox WHERE event_kind = 'aggregate.hourly' AND idempotency_key LIKE '%:2'")[0].decode(Int.self, 0) == revised)
        #expect(try await connection.query("SELECT count(*) FROM aggregate_hours_dirty")[0].decode(Int.self, 0) == 0)
    }
}
