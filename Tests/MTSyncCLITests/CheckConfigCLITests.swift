import Foundation
import Testing

@Suite("mtsync check-config")
struct CheckConfigCLITests {
    static let key = String(repeating: "4d", count: 32)

    /// A folder with a drop root and a configuration file holding `yaml`.
    static func configuration(_ yaml: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appending(path: "mtsync-checkconfig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appending(path: "drop"), withIntermediateDirectories: true)
        let file = folder.appending(path: "mtsync.yaml")
        try Data(yaml.utf8).write(to: file)
        return file
    }

    static let valid = """
        servers:
          - id: live-mt5
            platform: mt5
            time_zone: ny-close
            start: 2025-01-01
            bridge: { address: "bridge.internal:7465", key_id: k1, key_env: MTSYNC_TEST_KEY }
          - id: live-mt4
            platform: mt4
            time_zone: Europe/Athens
            start: 2025-01-01
            drop: { folder: drop }
        """

    @Test("a file with the daily feed: its line says the day, currency, cent and rate choices and never the platform's API key")
    func feed() async throws {
        let apiKey = "rai-live-key-5d2e9a7c4b1f"
        let file = try Self.configuration(Self.valid + """

            ingest:
              sqs: { queue_url: "https://sqs.eu-west-1.amazonaws.com/123456789012/loyalty" }
            feed:
              trigger_id: 65f0c1e2a9b8c7d6e5f4a3b2
              day: ny-close
              cent: { groups: ["*cent*"], factor: "0.01" }
              rates: { EUR: "1.08" }
              file_ingest: { url: "https://data-workflow.returning.ai/apis/v1/data-workflows/file-ingests", api_key_env: RAI_KEY }
            """)
        let result = try await CLI.launch(["check-config", file.path], environment: ["MTSYNC_TEST_KEY": Self.key, "RAI_KEY": apiKey])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("  feed:") }.map(String.init) ?? ""
        #expect(line.hasPrefix("  feed: daily rows, trigger 65f0c1e2a9b8c7d6e5f4a3b2, day ny-close, USD, cent groups *cent* × 0.01 (EUC→EUR,USC→USD), rates for EUR"), "\(line)")
        #expect(line.contains("SQS https://sqs.eu-west-1.amazonaws.com/123456789012/loyalty") && line.contains("file ingest above 2000 rows"))
        #expect(!result.stdout.contains(apiKey) && !result.stderr.contains(apiKey))

        let missing = try await CLI.launch(["check-config", file.path], environment: ["MTSYNC_TEST_KEY": Self.key])
        #expect(missing.status == 78)
        #expect((missing.stdout + missing.stderr).contains("feed.file_ingest.api_key_env") && (missing.stdout + missing.stderr).contains("RAI_KEY is not set"), "\(missing.stdout)\(missing.stderr)")
    }

    @Test("check-config prints each output's effective endpoint: a feed queue given only its URL goes where ingest.sqs goes; a server's line says its accounts decide and which come from the rules file")
    func effectiveEndpoints() async throws {
        let file = try Self.configuration(Self.valid.replacingOccurrences(of: "drop: { folder: drop }", with: """
            drop: { folder: drop }
                rules: { accounts: { "5005": { group: "real\\\\A", currency: USD } } }
            """) + """

            ingest:
              sqs: { queue_url: "http://127.0.0.1:4566/000000000000/facts", endpoint: "http://127.0.0.1:4566", region: us-east-1 }
            feed:
              trigger_id: 65f0c1e2a9b8c7d6e5f4a3b2
              sqs: { queue_url: "http://127.0.0.1:4566/000000000000/feed.fifo" }
            """)
        let result = try await CLI.launch(["check-config", file.path], environment: ["MTSYNC_TEST_KEY": Self.key, "AWS_ENDPOINT_URL": "", "AWS_REGION": ""])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("  ingest: SQS http://127.0.0.1:4566/000000000000/facts via http://127.0.0.1:4566") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("  feed:") && $0.contains("SQS http://127.0.0.1:4566/000000000000/feed.fifo via http://127.0.0.1:4566") }, "\(lines)")
        #expect(lines.contains { $0.contains("live-mt5:") && $0.contains("accounts decide (unknown accounts: held until known)") })
        #expect(lines.contains { $0.contains("live-mt4:") && $0.contains("1 account(s) from the rules file override the bridge's") }, "\(lines)")
    }

    @Test("a key file others can read: still valid (exit 0, the same summary), with a warning on stderr and in JSON")
    func permissionWarning() async throws {
        let file = try Self.configuration(Self.valid.replacingOccurrences(of: "key_env: MTSYNC_TEST_KEY", with: "key_file: bridge.key"))
        let keyFile = file.deletingLastPathComponent().appending(path: "bridge.key")
        try Data((Self.key + "\n").utf8).write(to: keyFile)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyFile.path)
        let result = try await CLI.launch(["check-config", file.path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").count == 7, "stdout keeps its shape")
        #expect(result.stderr.contains("warning: servers[0].bridge.key_file") && result.stderr.contains("chmod 600"), "\(result.stderr)")
        #expect(!result.stdout.contains(Self.key) && !result.stderr.contains(Self.key))
        let json = try await CLI.launch(["check-config", "--json", file.path])
        let warnings = (try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?["warnings"] as? [[String: Any]]
        #expect(warnings?.map { $0["path"] as? String } == ["servers[0].bridge.key_file"], "\(json.stdout)")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyFile.path)
        #expect(try await CLI.launch(["check-config", file.path]).stderr.isEmpty)
    }

    @Test("a valid file: exit 0, one line per server, one each for the ingest, the feed, monitoring and logging, never the key")
    func valid() async throws {
        let file = try Self.configuration(Self.valid)
        let result = try await CLI.launch(["check-config", file.path], environment: ["MTSYNC_TEST_KEY": Self.key])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first == "ok: 2 server(s)")
        #expect(lines.count == 7)
        #expect(lines.suffix(4) == ["  ingest: none (events stay in the outbox)", "  feed: off", "  monitoring: off", "  logging: logfmt, info"])
        #expect(lines.dropFirst().first?.contains("live-mt5: mt5 via bridge bridge.internal:7465") == true)
        #expect(!result.stdout.contains(Self.key) && !result.stderr.contains(Self.key))

        let json = try await CLI.launch(["check-config", "--json", file.path], environment: ["MTSYNC_TEST_KEY": Self.key])
        #expect(json.status == 0)
        #expect(json.json?["ok"] as? Bool == true)
        let servers = json.json?["servers"] as? [[String: Any]]
        #expect(servers?.map { $0["id"] as? String } == ["live-mt5", "live-mt4"])
        #expect(servers?.first?["key_id"] as? String == "k1")
        #expect(!json.stdout.contains(Self.key))
    }

    @Test("an invalid file: exit 78, every problem as location: message")
    func invalid() async throws {
        let file = try Self.configuration(Self.valid.replacingOccurrences(of: "platform: mt4", with: "platform: mt6") + "\n    pol_interval: 5s\n")
        let result = try await CLI.launch(["check-config", file.path], environment: ["MTSYNC_TEST_KEY": "not-hex-\(Self.key)"])
        #expect(result.status == 78)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(result.stdout)")
        #expect(lines.contains { $0.hasPrefix("servers[0].bridge.key_env (line 6, column ") && $0.contains("MTSYNC_TEST_KEY does not hold a valid key") })
        #expect(lines.contains { $0.hasPrefix("servers[1].platform (line 8, column 15): must be mt4 or mt5") })
        #expect(lines.contains { $0.hasPrefix("servers[1].pol_interval (line 12, column 5): unknown key") })
        #expect(result.stderr.contains("3 problem(s)"))
        #expect(!result.stdout.contains(Self.key) && !result.stderr.contains(Self.key))

        let json = try await CLI.launch(["check-config", "--json", file.path], environment: ["MTSYNC_TEST_KEY": "not-hex-\(Self.key)"])
        #expect(json.status == 78)
        #expect((json.json?["error"] as? [String: Any])?["kind"] as? String == "configuration_invalid")
        let problems = json.json?["problems"] as? [[String: Any]]
        #expect(problems?.map { $0["path"] as? String } == ["servers[0].bridge.key_env", "servers[1].platform", "servers[1].pol_interval"])
        #expect(problems?[1]["line"] as? Int == 8)
    }

    @Test("a missing file is a configuration error too")
    func missing() async throws {
        let result = try await CLI.launch(["check-config", "/nonexistent/mtsync.yaml"])
        #expect(result.status == 78)
        #expect(result.stdout.contains("does not exist"))
    }
}
