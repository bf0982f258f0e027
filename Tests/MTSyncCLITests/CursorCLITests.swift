import Foundation
import MTSyncStore
import MTSyncTestSupport
import Testing

@Suite("mtsync cursor")
struct CursorCLITests {
    /// A migrated database with one MT5 server, as a URL for the CLI.
    static func database() async throws -> String {
        let (database, connection) = try await TestDatabase.migrated()
        try await connection.query("INSERT INTO servers (server_id, platform, time_zone) VALUES ('live-mt5', 'mt5', 'ny-close')")
        return database.url
    }

    @Test("set, get, reset and history: server time in ISO and ms, the operator and reason kept")
    func roundTrip() async throws {
        let url = try await Self.database()
        let empty = try await CLI.launch(["cursor", "get", "--server", "live-mt5", "--database-url", url])
        #expect(empty.status == 0, "\(empty.stderr)")
        #expect(empty.stdout.contains("no cursors yet"))

        let set = try await CLI.launch([
            "cursor", "set", "--server", "live-mt5", "--stream", "deals", "--time", "2025-01-01T00:00", "--ticket", "700001",
            "--reason", "start from 2025", "--by", "alice@ops", "--json", "--database-url", url,
        ])
        #expect(set.status == 0, "\(set.stdout)\(set.stderr)")
        let newPosition = set.json?["new_position"] as? [String: Any]
        #expect(newPosition?["server_time"] as? String == "2025-01-01T00:00:00.000")
        #expect(newPosition?["server_msc"] as? Int == 1_735_689_600_000)
        #expect(newPosition?["ticket"] as? Int == 700_001)
        #expect(set.json?["by"] as? String == "alice@ops")
        #expect(set.json?["moved_back"] as? Bool == false)

        let get = try await CLI.launch(["cursor", "get", "--server", "live-mt5", "--json", "--database-url", url])
        #expect(get.status == 0, "\(get.stderr)")
        let cursors = try #require(get.json?["cursors"] as? [[String: Any]])
        #expect(cursors.map { $0["stream"] as? String } == ["deals"])
        #expect((cursors.first?["position"] as? [String: Any])?["server_time"] as? String == "2025-01-01T00:00:00.000")
        #expect((cursors.first?["updated_at"] as? String)?.hasSuffix("Z") == true)

        let text = try await CLI.launch(["cursor", "get", "--server", "live-mt5", "--database-url", url])
        #expect(text.stdout.contains("deals: 2025-01-01T00:00:00.000 (1735689600000 ms), ticket 700001"))

        // The default operator is $USER@hostname.
        let reset = try await CLI.launch(["cursor", "reset", "--server", "live-mt5", "--stream", "deals", "--reason", "full re-sync", "--database-url", url], environment: ["USER": "carol"])
        #expect(reset.status == 0, "\(reset.stderr)")
        #expect(reset.stdout.contains("reset deals by carol@"))
        #expect(reset.stdout.contains("moved back"))

        let history = try await CLI.launch(["cursor", "history", "--server", "live-mt5", "--json", "--database-url", url])
        #expect(history.status == 0, "\(history.stderr)")
        let changes = try #require(history.json?["changes"] as? [[String: Any]])
        #expect(changes.map { $0["action"] as? String } == ["reset", "set"])
        #expect(changes.map { $0["reason"] as? String } == ["full re-sync", "start from 2025"])
        #expect(changes.map { $0["moved_back"] as? Bool } == [true, false])
        #expect((changes.first?["by"] as? String)?.hasPrefix("carol@") == true)

        let historyText = try await CLI.launch(["cursor", "history", "--server", "live-mt5", "--database-url", url])
        #expect(historyText.stdout.contains("from 2025-01-01T00:00:00.000 (1735689600000 ms), ticket 700001"))
    }

    @Test("times with seconds and milliseconds, or as milliseconds, are server time")
    func timeForms() async throws {
        let url = try await Self.database()
        for (time, milliseconds) in [("2025-03-30T02:30:15.250", 1_743_301_815_250), ("2025-03-30 02:30:15", 1_743_301_815_000), ("2025-03-30", 1_743_292_800_000), ("1743301815250", 1_743_301_815_250)] {
            let set = try await CLI.launch(["cursor", "set", "--server", "live-mt5", "--stream", "deals", "--time", time, "--reason", "test", "--json", "--database-url", url])
            #expect(set.status == 0, "\(time): \(set.stderr)")
            #expect((set.json?["new_position"] as? [String: Any])?["server_msc"] as? Int == milliseconds, "\(time)")
        }
    }

    @Test("usage errors exit 64: a bad time, an unknown stream, a stream of the other platform, an unknown server, no reason")
    func refusals() async throws {
        let url = try await Self.database()
        let base = ["--server", "live-mt5", "--reason", "r", "--database-url", url]
        for arguments in [
            ["cursor", "set", "--stream", "deals", "--time", "2025-02-30"] + base,
            ["cursor", "set", "--stream", "deals", "--time", "yesterday"] + base,
            ["cursor", "set", "--stream", "bogus", "--time", "2025-01-01"] + base,
            ["cursor", "reset", "--stream", "trades"] + base,
            ["cursor", "reset", "--stream", "deals", "--server", "nope", "--reason", "r", "--database-url", url],
            ["cursor", "reset", "--stream", "deals", "--server", "live-mt5", "--database-url", url],
        ] {
            let result = try await CLI.launch(arguments)
            #expect(result.status == 64, "\(arguments): \(result.stdout)\(result.stderr)")
        }
        let unknown = try await CLI.launch(["cursor", "get", "--server", "nope", "--json", "--database-url", url])
        #expect(unknown.status == 64)
        #expect((unknown.json?["error"] as? [String: Any])?["kind"] as? String == "unknown_server")
        let history = try await CLI.launch(["cursor", "history", "--server", "live-mt5", "--json", "--database-url", url])
        #expect((history.json?["changes"] as? [Any])?.isEmpty == true)
    }

    @Test("a bridge's error text reaches the terminal with its control characters escaped: no escape sequence gets through status (G14)")
    func hostileErrorText() async throws {
        let (database, connection) = try await TestDatabase.migrated()
        try await connection.query("INSERT INTO servers (server_id, platform, time_zone) VALUES ('live-mt5', 'mt5', 'ny-close')")
        let hostile = "bridge says \u{1B}]0;owned\u{07}\u{1B}[2Jcleared\r\nFAKE LINE\u{202E}"
        try await connection.query("""
            INSERT INTO sync_cursors (server_id, stream, last_error_at, last_error) VALUES ('live-mt5', 'deals', now(), \(hostile))
            """)
        let status = try await CLI.launch(["status", "--database-url", database.url])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("bridge says \\u{1b}]0;owned\\u{7}\\u{1b}[2Jcleared\\u{d}\\u{a}FAKE LINE\\u{202e}"), "\(status.stdout)")
        #expect(!status.stdout.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" || $0 == "\u{202E}" || $0 == "\r" })
        let json = try await CLI.launch(["status", "--database-url", database.url, "--json"])
        #expect(json.stdout.contains("\\u001b]0;owned"), "JSON escapes them itself: \(json.stdout.prefix(600))")
    }

    @Test("mtsync status names the transport, in text and in JSON")
    func statusShowsIt() async throws {
        let (database, _) = try await TestDatabase.migrated()
        let text = try await CLI.launch(["status", "--database-url", database.url])
        #expect(text.status == 0 && text.stdout.contains("over plain TCP, not encrypted"), "\(text.stdout)\(text.stderr)")
        #expect(!text.stdout.contains("Warning: the database connection"), "loopback is not warned about")
        let json = try await CLI.launch(["status", "--database-url", database.url, "--json"])
        #expect(json.stdout.contains("\"database_transport\" : \"plain TCP, not encrypted\""), "\(json.stdout.prefix(300))")
    }
}
