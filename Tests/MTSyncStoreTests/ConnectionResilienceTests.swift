import Foundation
import MTSyncStore
import MTSyncTestSupport
import Testing

@Suite("Connection loss and secrets")
struct ConnectionResilienceTests {
    /// The password inside a `postgresql://user:password@host…` URL.
    static func password(in url: String) throws -> String {
        let afterScheme = try #require(url.range(of: "://")).upperBound
        let authority = url[afterScheme...].prefix { $0 != "/" }
        let at = try #require(authority.lastIndex(of: "@"))
        let colon = try #require(authority[..<at].firstIndex(of: ":"))
        return String(authority[authority.index(after: colon)..<at])
    }

    @Test("after a real server restart the connection reports the loss once, then reconnects by itself")
    func reconnectsAfterRestart() async throws {
        try await RestartableCluster.exclusively { cluster in
            let database = try await TestDatabase.create(clusterURL: cluster.url)
            let connection = try await database.connect()
            try await connection.execute(script: "CREATE TABLE survived (id int)")
            try await connection.query("INSERT INTO survived VALUES (1)")
            let backendBefore = await connection.backendPID

            try await cluster.restart()

            // The old socket is dead; libpq learns it on the first use. That use fails as `.connectionLost`
            // (it is not silently re-sent: only the caller knows whether a statement may be repeated).
            do throws(PostgresError) {
                try await connection.query("SELECT 1", name: "first query after restart")
                Issue.record("the first query after a restart should report the lost connection")
            } catch {
                #expect(error.code == .connectionLost)
                #expect(error.isTransient)
                #expect(error.statement == "first query after restart")
            }
            let count = try await connection.query("SELECT count(*) FROM survived")[0].decode(Int.self, 0)
            #expect(count == 1)
            #expect(await connection.backendPID != backendBefore, "a new server session was opened")
        }
    }

    @Test("a password never appears in any error text")
    func passwordNeverInErrors() async throws {
        let adminURL = try TestEnvironment.adminURL()
        let password = try Self.password(in: adminURL)
        try #require(password.count >= 8)
        var texts: [String] = []

        // Wrong password (the wrong one is a secret too).
        let wrongPassword = "Wr0ng-" + password.reversed()
        let wrongURL = adminURL.replacingOccurrences(of: ":\(password)@", with: ":\(wrongPassword)@")
        do {
            _ = try await PostgresConnection.connect(PostgresConfiguration(connectionString: wrongURL))
            Issue.record("connecting with a wrong password should fail")
        } catch {
            #expect(error.code == .connectionFailed)
            #expect(error.sqlState == nil || error.sqlState == "28P01")
            texts.append(error.description)
        }

        // A database that does not exist.
        do {
            _ = try await PostgresConnection.connect(PostgresConfiguration(connectionString: adminURL, overrides: [("dbname", "no_such_database")]))
            Issue.record("connecting to a missing database should fail")
        } catch {
            texts.append(error.description)
        }

        // Nobody listening.
        let closedPortURL = adminURL.replacingOccurrences(of: #"@127\.0\.0\.1:\d+/"#, with: "@127.0.0.1:1/", options: .regularExpression)
        do {
            _ = try await PostgresConnection.connect(PostgresConfiguration(connectionString: closedPortURL))
            Issue.record("connecting to a closed port should fail")
        } catch {
            #expect(error.code == .connectionFailed)
            texts.append(error.description)
        }

        // The server echoes a bad parameter value in its message: the value here holds the password. The prefix
        // makes it never a number: a password of digits only was out of range (22003), not invalid (22P02).
        let connection = try await PostgresConnection.connect(PostgresConfiguration(connectionString: adminURL))
        do {
            try await connection.query("SELECT \("pw-" + password)::integer")
            Issue.record("casting the password to integer should fail")
        } catch {
            #expect(error.sqlState == "22P02")
            #expect(error.message.contains("***"), "the echoed value was scrubbed: \(error.message)")
            texts.append(error.description)
        }

        // An unparseable URL carrying the password.
        do {
            _ = try await PostgresConnection.connect(PostgresConfiguration(connectionString: adminURL + "?no_such_option=1"))
            Issue.record("an unknown URL option should fail")
        } catch {
            texts.append(error.description)
        }

        #expect(texts.count == 5)
        for text in texts {
            #expect(!text.contains(password), "password leaked: \(text)")
            #expect(!text.contains(wrongPassword), "wrong password leaked: \(text)")
        }
    }
}
