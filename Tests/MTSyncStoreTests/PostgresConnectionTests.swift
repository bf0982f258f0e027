import Foundation
import MTSyncStore
import MTSyncTestSupport
import Testing

struct Planned: Error {}

@Suite("PostgresConnection against a real server")
struct PostgresConnectionTests {
    @Test("parameters round-trip exactly: quotes, NULL, unicode, bytea, big integers")
    func parametersRoundTrip() async throws {
        let connection = try await TestDatabase.create().connect()
        let text = "O'Brien \"quoted\" \\ back\tslash — ünïcödé 🚀"
        let bytes = Data((0...255).map(UInt8.init))
        let rows = try await connection.query("""
            SELECT \(text)::text, \(nil as String?)::text, \(bytes)::bytea, \(Int64.max)::bigint, \(true)::boolean, \(Int64(-42))::bigint
            """)
        let row = try #require(rows.first)
        #expect(try row.decode(String.self, 0) == text)
        #expect(try row.decode(String?.self, 1) == nil)
        #expect(try row.decode(Data.self, 2) == bytes)
        #expect(try row.decode(Int64.self, 3) == Int64.max)
        #expect(try row.decode(Bool.self, 4) == true)
        #expect(try row.decode(Int64.self, 5) == -42)
    }

    @Test("a waiting session wakes at another's committed NOTIFY, not at a rolled-back one, and times out without one")
    func waitsForNotifications() async throws {
        let database = try await TestDatabase.create()
        let listener = try await database.connect(), notifier = try await database.connect()
        let clock = ContinuousClock()
        // Nothing: the wait runs its course.
        let before = clock.now
        #expect(try await listener.waitForNotification(on: "test_channel", timeout: .milliseconds(300)) == false)
        #expect(clock.now - before >= .milliseconds(250))
        // A rolled-back NOTIFY is never delivered.
        _ = try? await notifier.transaction { connection in
            try connection.execute(script: "NOTIFY test_channel")
            throw Planned()
        }
        #expect(try await listener.waitForNotification(on: "test_channel", timeout: .milliseconds(300)) == false)
        // A committed one wakes the waiter long before its timeout.
        async let woke = listener.waitForNotification(on: "test_channel", timeout: .seconds(20))
        try await Task.sleep(for: .milliseconds(200))
        let started = clock.now
        try await notifier.transaction { connection in try connection.execute(script: "NOTIFY test_channel") }
        #expect(try await woke)
        #expect(clock.now - started < .seconds(5))
        // One sent while the listener was busy with other statements is kept for its next wait.
        try await notifier.execute(script: "NOTIFY test_channel")
        _ = try await listener.query("SELECT 1")
        #expect(try await listener.waitForNotification(on: "test_channel", timeout: .seconds(5)))
    }

    @Test("a transaction commits when its body returns")
    func transactionCommits() async throws {
        let connection = try await TestDatabase.create().connect()
        try await connection.execute(script: "CREATE TABLE t (id int PRIMARY KEY)")
        let inserted = try await connection.transaction { connection in
            try connection.query("INSERT INTO t VALUES (1), (2)").affectedRows
        }
        #expect(inserted == 2)
        #expect(try await connection.query("SELECT count(*) FROM t")[0].decode(Int.self, 0) == 2)
    }

    @Test("a transaction rolls back when its body throws, and the error comes out unchanged")
    func transactionRollsBackOnThrow() async throws {
        let connection = try await TestDatabase.create().connect()
        try await connection.execute(script: "CREATE TABLE t (id int PRIMARY KEY)")
        await #expect(throws: Planned.self) {
            try await connection.transaction { connection in
                try connection.query("INSERT INTO t VALUES (1)")
                throw Planned()
            }
        }
        #expect(try await connection.query("SELECT count(*) FROM t")[0].decode(Int.self, 0) == 0)
        // The connection is usable again, outside any transaction.
        try await connection.transaction { connection in try connection.query("INSERT INTO t VALUES (3)") }
        #expect(try await connection.query("SELECT count(*) FROM t")[0].decode(Int.self, 0) == 1)
    }

    @Test("a failing statement rolls its transaction back and surfaces SQLSTATE, constraint and statement name")
    func uniqueViolationSurfaces() async throws {
        let connection = try await TestDatabase.create().connect()
        try await connection.execute(script: "CREATE TABLE t (id int CONSTRAINT t_pkey PRIMARY KEY)")
        let error = await #expect(throws: PostgresError.self) {
            try await connection.transaction { connection in
                try connection.query("INSERT INTO t VALUES (1)")
                try connection.query("INSERT INTO t VALUES (1)", name: "insert duplicate")
            }
        }
        #expect(error?.code == .statementFailed)
        #expect(error?.sqlState == "23505")
        #expect(error?.constraint == "t_pkey")
        #expect(error?.statement == "insert duplicate")
        #expect(error?.detail?.contains("(id)=(1)") == true)
        #expect(error?.description.contains("SQLSTATE 23505") == true)
        #expect(try await connection.query("SELECT count(*) FROM t")[0].decode(Int.self, 0) == 0)
    }

    @Test("COPY FROM STDIN round-trips 100 000 rows exactly")
    func copyRoundTrip() async throws {
        let connection = try await TestDatabase.create().connect()
        try await connection.execute(script: "CREATE TABLE copied (id bigint PRIMARY KEY, label text, amount numeric, note text)")
        let rowCount = 100_000
        func label(_ id: Int) -> String { "row \(id)\t\\ \"q\" é\n" }
        func amount(_ id: Int) -> String { "\(id).\(String(format: "%08d", id % 99_999_999))" }
        let stored = try await connection.copyIn("COPY copied (id, label, amount, note) FROM STDIN") { writer in
            for id in 0..<rowCount {
                writer.append(Int64(id))
                writer.append(label(id))
                writer.append(amount(id))
                writer.append(id % 7 == 0 ? nil : "n\(id)")
                try writer.endRow()
            }
        }
        #expect(stored == rowCount)
        let rows = try await connection.query("SELECT id, label, amount::text, note FROM copied ORDER BY id")
        #expect(rows.count == rowCount)
        var mismatches = 0
        for (id, row) in rows.enumerated() {
            if try row.decode(Int.self, 0) != id || row.text(1) != label(id) || row.text(2) != amount(id)
                || row.text(3) != (id % 7 == 0 ? nil : "n\(id)") {
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
    }

    @Test("a COPY whose producer fails stores nothing and leaves the connection usable")
    func copyAborts() async throws {
        let connection = try await TestDatabase.create().connect()
        try await connection.execute(script: "CREATE TABLE copied (id bigint)")
        await #expect(throws: Planned.self) {
            try await connection.copyIn("COPY copied (id) FROM STDIN") { writer in
                for id in 0..<50_000 {
                    writer.append(Int64(id))
                    try writer.endRow()
                }
                throw Planned()
            }
        }
        #expect(try await connection.query("SELECT count(*) FROM copied")[0].decode(Int.self, 0) == 0)
    }

    @Test("bad COPY data is a typed error naming the SQLSTATE")
    func copyBadData() async throws {
        let connection = try await TestDatabase.create().connect()
        try await connection.execute(script: "CREATE TABLE copied (id bigint)")
        let error = await #expect(throws: PostgresError.self) {
            try await connection.copyIn("COPY copied (id) FROM STDIN", name: "copy ids") { writer in
                writer.append("not a number")
                try writer.endRow()
            }
        }
        #expect(error?.sqlState == "22P02")
        #expect(error?.statement == "copy ids")
        #expect(try await connection.query("SELECT 1")[0].decode(Int.self, 0) == 1)
    }

    @Test("libpq calls block their connection's own thread, never Swift's cooperative pool")
    func blockingCallsStayOffThePool() async throws {
        // The cooperative pool has one thread per core (2 here). Were the ten 2-second sleeps below run on it,
        // they would take at least 10 s; on dedicated threads they overlap and take about 2 s. (Six sleeps with a
        // 4.5 s bound were too thin for the full suite on 2 cores: 4.7 s was seen; 1-second ones with 2.5 s, 2.8 s.)
        let database = try await TestDatabase.create()
        var connections: [PostgresConnection] = []
        for _ in 0..<10 { connections.append(try await database.connect()) }
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for connection in connections {
                group.addTask { try await connection.query("SELECT pg_sleep(2)") }
            }
            try await group.waitForAll()
        }
        #expect(ContinuousClock.now - started < .seconds(7))
    }
}
