import Foundation
import MTSyncCore
import MTSyncEngine
import MTSyncIngest
import MTSyncStore
import MTSyncTestSupport
import Testing

/// The builder against a real database, with facts written straight into the store's tables: which trading day a
/// fact counts on, currency holds, a login moving between customers, and what counts as a deposit.
@Suite("The daily feed's builder: trading days, holds, customers changing, deposits")
struct DailyFeedBuilderTests {
    static let settings = DailyFeedSettings(
        rules: DailyFeedRules(reportingCurrency: "USD", centGroups: ["*cent*"], centFactor: ExactDecimal(parsing: "0.01")!),
        envelope: DailyFeedEnvelope(triggerID: "t-1", source: "test"),
        deposits: DailyFeedStore.DepositRule(kinds: ["balance"], excludedComments: ["*transfer*"]))

    /// One fact as the store writes it, with its (login, UTC day) mark.
    static func fact(_ connection: PostgresConnection, server: String = "s1", login: Int64, ticket: Int64, utc: String, kind: String = "trade",
                     entry: String? = "out", lots: String = "0", profit: String = "0", comment: String? = nil) async throws {
        try await connection.query("SELECT ensure_trading_fact_partitions(\(utc)::timestamptz, \(utc)::timestamptz)")
        try await connection.query("INSERT INTO servers (server_id, platform, time_zone) VALUES (\(server), 'mt5', 'UTC') ON CONFLICT DO NOTHING")
        try await connection.query("""
            WITH identity AS (
                INSERT INTO fact_identities (server_id, ticket, leg, content_hash, time_utc) VALUES (\(server), \(ticket), 0, '\\x00', \(utc)::timestamptz)
                RETURNING fact_id
            )
            INSERT INTO trading_facts (fact_id, time_utc, server_id, platform, login, ticket, leg, revision, kind, entry, server_time_msc, zone,
                                       lots, profit, net, comment, content_hash, idempotency_key)
            SELECT fact_id, \(utc)::timestamptz, \(server), 'mt5', \(login), \(ticket), 0, 1, \(kind), \(entry), 0, 'UTC',
                   \(lots)::numeric, \(profit)::numeric, \(profit)::numeric, \(comment), '\\x00', \(server) || ':' || \(ticket) || ':1'
            FROM identity
            """)
        try await connection.query("""
            INSERT INTO feed_login_days_dirty (server_id, login, utc_day) VALUES (\(server), \(login), (\(utc)::timestamptz AT TIME ZONE 'UTC')::date)
            ON CONFLICT DO NOTHING
            """)
    }

    static func account(_ connection: PostgresConnection, server: String = "s1", login: UInt64, group: String = "real\\A", currency: String = "USD", customer: String?) async throws {
        try await AccountDirectory.storeFromBridge(
            server: server, accounts: [AccountRecord(login: login, group: group, currency: currency, leverage: 100, clientID: customer, updatedMilliseconds: nil)],
            changedBy: "test", on: connection)
    }

    static func rows(_ connection: PostgresConnection) async throws -> [String: String] {
        var rows: [String: String] = [:]
        for row in try await connection.query("SELECT customer_id || '@' || day, revision || ' ' || (figures->>'deposit_total') || ' ' || (figures->>'closed_lots') FROM feed_rows") {
            rows[try row.decode(String.self, 0)] = try row.decode(String.self, 1)
        }
        return rows
    }

    @Test("a fact at 22:00 UTC on 28 March counts on the 28th for a UTC day and on the 29th for the New York close (17:00 EDT = 21:00 UTC)")
    func tradingDay() async throws {
        let (database, connection) = try await TestDatabase.migrated()
        _ = database
        try await Self.account(connection, login: 7, customer: "C-7")
        try await Self.fact(connection, login: 7, ticket: 1, utc: "2026-03-28T22:00:00Z", lots: "1.5")
        try await Self.fact(connection, login: 7, ticket: 2, utc: "2026-03-28T20:59:59Z", lots: "0.5")
        var settings = Self.settings
        let utc = try await DailyFeedBuilder(settings: settings, connection: connection).preview(day: "2026-03-28", customerID: nil)
        #expect(utc.rows.map(\.closedLots) == [ExactDecimal(2)])
        settings.day = .nyClose
        let builder = DailyFeedBuilder(settings: settings, connection: connection)
        #expect(try await builder.preview(day: "2026-03-28", customerID: nil).rows.map(\.closedLots) == [ExactDecimal(parsing: "0.5")!])
        #expect(try await builder.preview(day: "2026-03-29", customerID: nil).rows.map(\.closedLots) == [ExactDecimal(parsing: "1.5")!])
        let report = try await builder.build()
        #expect(report.rowsQueued == 2)
        #expect(try await Self.rows(connection) == ["C-7@2026-03-28": "1 0.00 0.5", "C-7@2026-03-29": "1 0.00 1.5"])
    }

    @Test("an account in a currency without a rate holds its customer's whole day with the reason; a rate releases it")
    func currencyHold() async throws {
        let (database, connection) = try await TestDatabase.migrated()
        _ = database
        try await Self.account(connection, login: 1, customer: "C-1")
        try await Self.account(connection, login: 2, currency: "GBP", customer: "C-1")
        try await Self.fact(connection, login: 1, ticket: 1, utc: "2026-03-02T10:00:00Z", lots: "1")
        try await Self.fact(connection, login: 2, ticket: 2, utc: "2026-03-02T11:00:00Z", kind: "balance", entry: nil, profit: "100")
        let held = try await DailyFeedBuilder(settings: Self.settings, connection: connection).build()
        #expect(held.rowsQueued == 0 && held.customerDaysHeld == 1)
        let status = try await DailyFeedStore.status(on: connection)
        #expect(status.heldCustomerDays == 1 && status.heldReason?.contains("GBP") == true && status.heldReason?.contains("s1:2") == true)
        var settings = Self.settings
        settings.rules.rates = ["GBP": ExactDecimal(parsing: "1.25")!]
        let released = try await DailyFeedBuilder(settings: settings, connection: connection).build()
        #expect(released.rowsQueued == 1)
        #expect(try await Self.rows(connection) == ["C-1@2026-03-02": "1 125.00 1"])
        #expect(try await DailyFeedStore.status(on: connection).heldCustomerDays == 0)
    }

    @Test("a login moving to another customer: the former customer's day is resent without it (zero), the new one's with it; audited")
    func customerChanges() async throws {
        let (database, connection) = try await TestDatabase.migrated()
        _ = database
        try await Self.account(connection, login: 5, customer: "OLD")
        try await Self.fact(connection, login: 5, ticket: 1, utc: "2026-03-03T10:00:00Z", kind: "balance", entry: nil, profit: "40")
        let builder = DailyFeedBuilder(settings: Self.settings, connection: connection)
        _ = try await builder.build()
        #expect(try await Self.rows(connection) == ["OLD@2026-03-03": "1 40.00 0"])
        try await AccountDirectory.importCustomerIDs([(server: "s1", login: 5, customerID: "NEW")], changedBy: "ops", on: connection)
        let moved = try await builder.build()
        #expect(moved.rowsQueued == 2)
        #expect(try await Self.rows(connection) == ["OLD@2026-03-03": "2 0.00 0", "NEW@2026-03-03": "1 40.00 0"])
        let (accounts, changes) = try await AccountDirectory.show(login: 5, server: nil, on: connection)
        #expect(accounts.first?.customerID == "NEW" && accounts.first?.clientID == "OLD" && accounts.first?.customerOverride == "NEW")
        #expect(changes.contains { $0.field == "customer_override" && $0.newValue == "NEW" && $0.changedBy == "ops" })
        // Nothing changed since: nothing is queued again.
        #expect(try await builder.build().rowsQueued == 0)
    }

    @Test("deposits: positive balance operations only; credit, withdrawals and excluded comments are not deposits; cent accounts scaled")
    func deposits() async throws {
        let (database, connection) = try await TestDatabase.migrated()
        _ = database
        try await Self.account(connection, login: 1, customer: "C")
        try await Self.account(connection, login: 2, group: "real\\cent-usc", currency: "USC", customer: "C")
        try await Self.fact(connection, login: 1, ticket: 1, utc: "2026-03-04T01:00:00Z", kind: "balance", entry: nil, profit: "100")
        try await Self.fact(connection, login: 1, ticket: 2, utc: "2026-03-04T02:00:00Z", kind: "balance", entry: nil, profit: "-30")
        try await Self.fact(connection, login: 1, ticket: 3, utc: "2026-03-04T03:00:00Z", kind: "credit", entry: nil, profit: "500")
        try await Self.fact(connection, login: 1, ticket: 4, utc: "2026-03-04T04:00:00Z", kind: "balance", entry: nil, profit: "70", comment: "Internal TRANSFER from 2")
        try await Self.fact(connection, login: 2, ticket: 5, utc: "2026-03-04T05:00:00Z", kind: "balance", entry: nil, profit: "1000")
        try await Self.fact(connection, login: 2, ticket: 6, utc: "2026-03-04T06:00:00Z", lots: "50")
        try await Self.fact(connection, login: 2, ticket: 7, utc: "2026-03-04T07:00:00Z", entry: "in", lots: "80")
        let preview = try await DailyFeedBuilder(settings: Self.settings, connection: connection).preview(day: "2026-03-04", customerID: "C")
        let row = try #require(preview.rows.first)
        #expect(row.depositTotal == ExactDecimal(110))
        #expect(row.withdrawalTotal == ExactDecimal(30))
        #expect(row.closedLots == ExactDecimal(parsing: "0.5")!)
        #expect(row.logins == ["s1:1", "s1:2"])
    }
}
