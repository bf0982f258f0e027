import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import MTSyncTestSupport
import Testing

/// The interleaving scripts/chaos found: a page storing facts for a (login, day) whose mark the feed builder holds at
/// that moment — computing the day from a snapshot without the page's facts, then deleting the mark.
@Suite("Marks and the feed builder: a page's facts are never left unmarked by a round running beside it")
struct FeedMarkRaceTests {
    @Test("a page that stores while the builder holds and consumes the same days' marks leaves fresh marks for the next round")
    func pageDuringBuilderRound() async throws {
        let dataset = SimulatedDataset(.init(seed: 3, serverID: "sim-mt5", days: 1, dealsPerDay: 60, logins: 2, platform: .mt5))
        let (database, builder) = try await TestDatabase.migrated()
        let page = try await database.connect()
        let server = try ServerID("sim-mt5")
        try await FactStore.register(serverID: server, platform: .mt5, zone: "ny-close", on: page)
        // No accounts stream here: the facts are sent without one (`unknown_group: include`), as the race is about marks.
        let batcher = RecordBatcher(normalizer: Normalizer(settings: ServerSettings(
            server: server, platform: .mt5, zone: ServerTimeZone("ny-close")!, filter: AccountFilter(unknownGroup: .include))))
        let deals = dataset.deals(onDay: dataset.configuration.firstDay)
        let (first, second) = (Array(deals.prefix(deals.count / 2)), Array(deals.dropFirst(deals.count / 2)))
        _ = try await page.transaction(name: "first page") { connection in try FactStore.store(batcher.batch(deals: first, cursor: nil), on: connection) }

        // The builder's round, by hand: take the marks (FOR UPDATE, as DailyFeedStore.openLoginMarks does) and hold them.
        _ = try await builder.query("BEGIN")
        let held = try await builder.query("SELECT login FROM feed_login_days_dirty ORDER BY utc_day, server_id, login FOR UPDATE").count
        #expect(held > 0)
        // The second page, meanwhile, on its own connection: it touches the same logins and days.
        async let stored = page.transaction(name: "second page") { connection in try FactStore.store(batcher.batch(deals: second, cursor: nil), on: connection) }
        try await Task.sleep(for: .milliseconds(500))
        // The round computed from its snapshot (without the second page) and settles: its marks go.
        _ = try await builder.query("DELETE FROM feed_login_days_dirty")
        _ = try await builder.query("COMMIT")
        _ = try await stored

        // Every (login, UTC day) the second page wrote has a mark again, so the next round computes it with them.
        let unmarked = try await page.query("""
            SELECT count(*) FROM (SELECT DISTINCT server_id, login, (time_utc AT TIME ZONE 'UTC')::date AS day FROM trading_facts) f
            WHERE NOT EXISTS (SELECT 1 FROM feed_login_days_dirty d WHERE d.server_id = f.server_id AND d.login = f.login AND d.utc_day = f.day)
              AND EXISTS (SELECT 1 FROM trading_facts t WHERE t.server_id = f.server_id AND t.login = f.login
                          AND (t.time_utc AT TIME ZONE 'UTC')::date = f.day AND t.ticket = ANY(\(PostgresArray(second.compactMap { $0.deal.flatMap { Int64($0) } }).postgresText)::bigint[]))
            """)[0].decode(Int.self, 0)
        #expect(unmarked == 0, "login days of the second page without a mark after the round")
    }
}
