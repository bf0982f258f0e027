import Foundation
import Logging
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import MTSyncTestSupport
import Testing

/// Issue 20, finding 5 and "Least privilege": the fact table's monthly partitions are made ahead of time by upkeep,
/// never by a page; a fact outside them is quarantined; the daemon's role needs row privileges only.
@Suite("Fact partitions: made ahead by upkeep, never by a page")
struct FactPartitionTests {
    static let server = try! ServerID("live-mt5")
    static let day: Int64 = 86_400_000
    /// 9999-12-31T23:59:59Z: what a buggy bridge sent.
    static let farFuture: Int64 = 253_402_300_799_000

    static func batcher() -> RecordBatcher {
        RecordBatcher(normalizer: Normalizer(settings: ServerSettings(
            server: server, platform: .mt5, zone: ServerTimeZone("+00:00")!, filter: AccountFilter(unknownGroup: .include))))
    }

    static func deal(_ ticket: Int, at milliseconds: Int64) -> MT5DealRecord {
        MT5DealRecord(fields: [
            "Deal": "\(ticket)", "Login": "1001", "Action": "0", "Entry": "0", "TimeMsc": "\(milliseconds)",
            "Symbol": "EURUSD", "VolumeExt": "100000000", "Price": "1.1", "Profit": "0",
        ])
    }

    /// A page of deals at `times`; a time given in `factTimes` replaces its fact's time after normalization, as a
    /// record the normalizer let through would carry it (its own plausibility window may refuse such a record first:
    /// the store must hold without it).
    static func page(_ times: [Int64], firstTicket: Int = 900_000, factTimes: [Int: Int64] = [:], cursor: CursorPosition? = nil) -> PageBatch {
        var batch = batcher().batch(deals: times.enumerated().map { deal(firstTicket + $0.offset, at: $0.element) }, cursor: cursor)
        for (index, time) in factTimes {
            batch.undecided[index].facts = batch.undecided[index].facts.map { fact in
                var fact = fact
                fact.timeUTCMilliseconds = time
                return fact
            }
        }
        return batch
    }

    static func now(_ connection: PostgresConnection) async throws -> Int64 {
        try await connection.query("SELECT (extract(epoch FROM now()) * 1000)::bigint")[0].decode(Int64.self, 0)
    }

    static func count(_ connection: PostgresConnection, _ sql: PostgresQuery) async throws -> Int {
        try await connection.query(sql)[0].decode(Int.self, 0)
    }

    static let partitionCount: PostgresQuery = "SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'trading_facts'::regclass"

    @Test("a page with one fact in year 9999 stores the others, quarantines that one with its bytes, makes no partition and takes no ACCESS EXCLUSIVE lock")
    func farFutureFactLocksNothing() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        try await FactStore.register(serverID: Self.server, platform: .mt5, zone: "+00:00", on: connection)
        let now = try await Self.now(connection)
        let partitionsBefore = try await Self.count(connection, Self.partitionCount)
        let batch = Self.page([now - Self.day, now - 3_600_000, now, now - 60_000], factTimes: [2: Self.farFuture],
                              cursor: CursorPosition(serverTimeMilliseconds: now, ticket: 900_003))

        let started = ContinuousClock.now
        let (outcome, exclusiveLocks) = try await connection.transaction { connection in
            let outcome = try FactStore.store(batch, on: connection)
            // The page's own locks, before it commits: no partition was made, so nothing of the fact table is locked exclusively.
            let locks = try connection.query("""
                SELECT count(*)::int FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                WHERE l.pid = pg_backend_pid() AND l.mode = 'AccessExclusiveLock' AND c.relname LIKE 'trading_facts%'
                """)[0].decode(Int.self, 0)
            return (outcome, locks)
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(exclusiveLocks == 0)
        #expect(outcome.inserted == 3)
        #expect(outcome.quarantined == 1)
        #expect(try await Self.count(connection, Self.partitionCount) == partitionsBefore)
        #expect(try await Self.count(connection, "SELECT count(*)::int FROM trading_facts_default") == 0)
        #expect(try await Self.count(connection, "SELECT count(*)::int FROM trading_facts WHERE ticket = 900002") == 0)

        let entry = try #require(try await QuarantineEntry.open(serverID: "live-mt5", on: connection).first)
        #expect(entry.reasonCode == FactPartitions.quarantineCode)
        #expect(entry.reason.contains("9999-12-31T23:59:59.000Z") && entry.reason.contains("mtsync migrate"))
        let raw = try #require(try JSONSerialization.jsonObject(with: Data(entry.raw)) as? [String: String])
        #expect(raw["Deal"] == "900002" && raw["Symbol"] == "EURUSD")
        #expect(try await Self.count(connection, "SELECT count(*)::int FROM source_records WHERE ticket = 900002 AND outcome = 'quarantined'") == 1)

        // The lookback reads the same page again: nothing new, the one entry stays one.
        let again = try await connection.transaction { connection in try FactStore.store(batch, on: connection) }
        #expect(again.inserted == 0 && again.quarantined == 0)
        #expect(try await Self.count(connection, "SELECT count(*)::int FROM quarantine") == 1)
    }

    /// (time, placement) with partitions ending at 1_800_000_000_000 and the database's clock at 1_700_000_000_000.
    static let placements: [(Int64, String)] = [
        (946_684_800_000 - 1, "quarantined"), (946_684_800_000, "inside"), (1_799_999_999_999, "inside"),
        (1_800_000_000_000, "quarantined"), (1_800_000_000_000 + 365 * 86_400_000, "quarantined"),
        (Int64.max, "quarantined"), (Int64.min, "quarantined"),
    ]

    @Test("the window: inside from 2000 to where the partitions end, outside it quarantined", arguments: placements)
    func windowPlacement(time: Int64, expected: String) throws {
        let window = FactPartitions.Window(endMilliseconds: 1_800_000_000_000, nowMilliseconds: 1_700_000_000_000)
        switch try window.place(utcMilliseconds: time) {
        case .inside: #expect(expected == "inside")
        case .outside(let reason): #expect(expected == "quarantined", "\(reason)")
        }
    }

    @Test("past the partitions, a time up to a day ahead of the database's clock stops the page (the horizon ran out), a later one is quarantined")
    func exhaustedWindow() throws {
        let now: Int64 = 1_700_000_000_000
        let window = FactPartitions.Window(endMilliseconds: now - 1, nowMilliseconds: now)
        for time in [now - 1, now, now + 86_400_000] {
            #expect(throws: PostgresError.self) { try window.place(utcMilliseconds: time) }
        }
        #expect(try window.place(utcMilliseconds: now + 86_400_001) != .inside)
        let edge = FactPartitions.Window(endMilliseconds: Int64.max - 1, nowMilliseconds: Int64.max - 10)
        #expect(throws: PostgresError.self) { try edge.place(utcMilliseconds: Int64.max) }
    }

    @Test("when the partitions have run out under live deals, the page fails and says to run mtsync migrate; upkeep makes the month and the same page is stored")
    func exhaustedHorizonStopsThePage() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        try await FactStore.register(serverID: Self.server, platform: .mt5, zone: "+00:00", on: connection)
        let month = try await connection.query("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')")[0].decode(String.self, 0)
        // As if a year had passed with no upkeep: the current month has no partition.
        try await connection.execute(script: "ALTER TABLE trading_facts DETACH PARTITION trading_facts_\(month); DROP TABLE trading_facts_\(month)")
        let now = try await Self.now(connection)
        let batch = Self.page([now - 1_000], cursor: CursorPosition(serverTimeMilliseconds: now, ticket: 900_000))
        await #expect(throws: PostgresError.self) {
            try await connection.transaction { connection in try FactStore.store(batch, on: connection) }
        }
        do {
            _ = try await connection.transaction { connection in try FactStore.store(batch, on: connection) }
        } catch let error as PostgresError {
            #expect(error.code == .noPartition && error.description.contains("mtsync migrate"))
        }
        let horizon = try await FactPartitions.horizon(on: connection)
        #expect(horizon.monthsAhead == -1)
        #expect(horizon.warning?.contains("mtsync migrate") == true)
        #expect(try await FactStore.cursor(serverID: Self.server, stream: .deals, on: connection) == .start)

        let report = try await FactPartitions.upkeep(on: connection)
        #expect(report.created == [month.replacingOccurrences(of: "_", with: "-")])
        let outcome = try await connection.transaction { connection in try FactStore.store(batch, on: connection) }
        #expect(outcome.inserted == 1)
        #expect(try await FactPartitions.horizon(on: connection).warning == nil)
    }

    @Test("a past month without its partition waits in the default partition; upkeep gives it its month and moves its facts in, and status stops warning")
    func upkeepMovesPastMonthsOutOfDefault() async throws {
        let (_, connection) = try await TestDatabase.migrated()
        try await FactStore.register(serverID: Self.server, platform: .mt5, zone: "+00:00", on: connection)
        // 2024-03-10 and 2024-03-20: long before the partitions migrate made.
        let march: Int64 = 1_710_028_800_000
        _ = try await connection.transaction { connection in try FactStore.store(Self.page([march, march + 10 * Self.day]), on: connection) }
        #expect(try await Self.count(connection, "SELECT count(*)::int FROM trading_facts_default") == 2)
        let before = try await StoreStatus.read(on: connection, migrator: try Migrator.embedded())
        #expect(before.warnings.contains { $0.contains("trading_facts_default") && $0.contains("mtsync migrate") })

        let report = try await FactPartitions.upkeep(on: connection)
        #expect(report.created == ["2024-03"])
        #expect(report.movedRows == 2)
        #expect(try await Self.count(connection, "SELECT count(*)::int FROM trading_facts_default") == 0)
        #expect(try await connection.query("SELECT DISTINCT tableoid::regclass::text FROM trading_facts")[0].decode(String.self, 0) == "trading_facts_2024_03")
        // The facts are the same rows: a page reading them again changes nothing.
        let again = try await connection.transaction { connection in try FactStore.store(Self.page([march, march + 10 * Self.day]), on: connection) }
        #expect(again.inserted == 0 && again.updated == 0 && again.unchanged == 2)
        let after = try await StoreStatus.read(on: connection, migrator: try Migrator.embedded())
        #expect(after.warnings.isEmpty)
        #expect(after.partitions?.firstMonth == "2024-03")
        #expect(after.partitions?.monthsAhead == FactPartitions.defaultMonthsAhead)
    }

    @Test("upkeep from several instances at once makes each month once, while pages go on storing")
    func concurrentUpkeep() async throws {
        let (database, connection) = try await TestDatabase.migrated()
        try await FactStore.register(serverID: Self.server, platform: .mt5, zone: "+00:00", on: connection)
        let others = [try await database.connect(), try await database.connect(), try await database.connect()]
        let now = try await Self.now(connection)
        let reports = try await withThrowingTaskGroup(of: FactPartitions.UpkeepReport?.self) { group in
            for other in others {
                group.addTask { try await FactPartitions.upkeep(monthsAhead: 30, from: 1_704_067_200_000, on: other) }
            }
            group.addTask {
                for index in 0..<10 {
                    _ = try await connection.transaction { connection in
                        try FactStore.store(Self.page([now - Int64(index) * 60_000], firstTicket: 910_000 + index), on: connection)
                    }
                }
                return nil
            }
            return try await group.reduce(into: [FactPartitions.UpkeepReport]()) { if let report = $1 { $0.append(report) } }
        }
        let made = reports.flatMap(\.created)
        #expect(made.count == Set(made).count)
        // 2024-01 to the current month, and 30 after it.
        let expected = try await Self.count(connection, """
            SELECT count(*)::int FROM generate_series('2024-01-01'::date, (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '30 months')::date, interval '1 month')
            """)
        #expect(try await Self.count(connection, Self.partitionCount) == expected + 1)
        #expect(reports.allSatisfy { $0.horizon?.monthsAhead == 30 })
        #expect(try await Self.count(connection, "SELECT count(*)::int FROM trading_facts") == 10)
        #expect(try await Self.count(connection, "SELECT count(*)::int FROM trading_facts_default") == 0)
    }

    @Test("a runtime role with row privileges only stores a fact in each of the next 12 months, and may make no partition")
    func runtimeRoleStoresAYearAhead() async throws {
        let (database, owner) = try await TestDatabase.migrated()
        let role = "mtsync_runtime_" + UUID().uuidString.prefix(8).lowercased()
        let password = UUID().uuidString
        try await owner.execute(script: "CREATE ROLE \(role) LOGIN PASSWORD '\(password)'")
        try await RuntimeRole.grant(to: role, on: owner)
        try await FactStore.register(serverID: Self.server, platform: .mt5, zone: "+00:00", on: owner)
        let runtime = try await PostgresConnection.connect(PostgresConfiguration(
            connectionString: database.adminURL, overrides: [("dbname", database.name), ("user", role), ("password", password)]))

        let privileges = try await runtime.query("""
            SELECT has_schema_privilege(current_user, current_schema(), 'CREATE'), has_database_privilege(current_user, current_database(), 'CREATE'),
                   has_table_privilege(current_user, 'trading_facts', 'TRUNCATE'), has_table_privilege(current_user, 'schema_migrations', 'INSERT')
            """)[0]
        #expect(try [privileges.decode(Bool.self, 0), privileges.decode(Bool.self, 1), privileges.decode(Bool.self, 2), privileges.decode(Bool.self, 3)] == [false, false, false, false])

        // Mid-month of the current month and each of the next 12, as a daemon meets them over a year.
        let middles = try await runtime.query("""
            SELECT (extract(epoch FROM (date_trunc('month', now() AT TIME ZONE 'UTC') + n * interval '1 month' + interval '14 days') AT TIME ZONE 'UTC') * 1000)::bigint
            FROM generate_series(0, 12) AS n
            """).map { try $0.decode(Int64.self, 0) }
        let partitions = try await Self.count(owner, Self.partitionCount)
        let outcome = try await runtime.transaction { connection in try FactStore.store(Self.page(middles), on: connection) }
        #expect(outcome.inserted == 13 && outcome.quarantined == 0)
        #expect(try await Self.count(owner, "SELECT count(DISTINCT tableoid)::int FROM trading_facts") == 13)
        #expect(try await Self.count(owner, "SELECT count(*)::int FROM trading_facts_default") == 0)
        #expect(try await Self.count(owner, Self.partitionCount) == partitions)

        // Upkeep under it is refused for lack of privilege (the daemon's service says so once and goes on); status reads.
        do {
            try await FactPartitions.upkeep(monthsAhead: 20, on: runtime)
            Issue.record("a runtime role made partitions")
        } catch let error as PostgresError {
            #expect(error.isInsufficientPrivilege, "\(error)")
        }
        try await PartitionUpkeepService(connection: runtime, settings: .init(monthsAhead: 20), logger: .init(label: "test")).round()
        let status = try await StoreStatus.read(on: runtime, migrator: try Migrator.embedded())
        #expect(status.partitions?.monthsAhead == FactPartitions.defaultMonthsAhead)
        #expect(status.warnings.isEmpty)
    }
}
