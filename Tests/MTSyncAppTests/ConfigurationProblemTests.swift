import Foundation
import MTSyncApp
import Testing

@Suite("Configuration problems are reported with their location")
struct ConfigurationProblemTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let server: String
        var top = ""
        let path: String
        let message: String
        var testDescription: String { name }
    }

    /// Each is the minimal valid file (one drop server at line 3) with one thing wrong.
    static let cases: [Case] = [
        Case(name: "unknown key", server: "pol_interval: 5s", path: "servers[0].pol_interval", message: #"did you mean "poll_interval"?"#),
        Case(name: "unknown top-level key", server: "", top: "databse: { url: x }", path: "databse", message: #"did you mean "database"?"#),
        Case(name: "a key where secrets would go", server: "", top: "database: { password: x }", path: "database.password", message: "secrets never go in this file"),
        Case(name: "bad duration", server: "poll_interval: 10", path: "servers[0].poll_interval", message: "write 10s for seconds"),
        Case(name: "duration with an unknown unit", server: "lookback: 2w", path: "servers[0].lookback", message: "must be a duration"),
        Case(name: "duration too short", server: "poll_interval: 0s", path: "servers[0].poll_interval", message: "at least 100ms"),
        Case(name: "page size above the protocol limit", server: "page_size: 20000", path: "servers[0].page_size", message: "from 1 to 10000"),
        Case(name: "page size zero", server: "page_size: 0", path: "servers[0].page_size", message: "from 1 to 10000"),
        Case(name: "jitter", server: "poll_jitter: 0.1", path: "servers[0].poll_jitter", message: "percentage"),
        Case(name: "reconcile", server: "reconcile: { every: sometimes }", path: "servers[0].reconcile.every", message: "`off` to disable"),
        Case(name: "bad lease ttl", server: "", top: "instance: { lease_ttl: soon }", path: "instance.lease_ttl", message: "must be a duration"),
        Case(name: "rules and rules_file together", server: "rules_file: r.json\nrules: {}", path: "servers[0].rules_file", message: "not both"),
        Case(name: "inline rules: unknown key", server: "rules: { symbols: { sufixes: ['.x'] } }", path: "servers[0].rules.symbols.sufixes", message: #"did you mean "suffixes"?"#),
        Case(name: "inline rules: bad login range", server: "rules: { filters: { exclude_logins: ['9-1'] } }", path: "servers[0].rules.filters.exclude_logins.[0]", message: "neither a login nor a range"),
        Case(name: "inline rules: bad policy", server: "rules: { ambiguous_time: latest }", path: "servers[0].rules.ambiguous_time", message: "latest"),
        Case(name: "inline rules: empty canonical symbol (NormalizationRules.apply)", server: "rules: { symbols: { map: { FOO: ' ' } } }", path: "servers[0].rules.symbols.map.FOO", message: "the canonical symbol is empty"),
        Case(name: "inline rules: login not a number (NormalizationRules.apply)", server: "rules: { accounts: { abc: { group: g } } }", path: "servers[0].rules.accounts.abc", message: "unsigned integer"),
        Case(name: "servers is not a list", server: "", top: "", path: "", message: ""),
    ].filter { !$0.path.isEmpty }

    @Test("one problem, one report, at the setting's path and line", arguments: cases)
    func single(_ testCase: Case) throws {
        let fixture = try ConfigurationFixture()
        let problems = fixture.problems(ConfigurationFixture.minimal(server: testCase.server, top: testCase.top))
        try #require(problems.count == 1, "\(problems)")
        #expect(problems[0].path == testCase.path)
        #expect(problems[0].message.contains(testCase.message), "\(problems[0].message)")
        #expect(problems[0].line != nil)
        #expect(problems[0].location.hasPrefix(testCase.path + " (line "))
    }

    struct ServerCase: CustomTestStringConvertible, Sendable {
        let name: String
        let yaml: String
        var environment: [String: String] = [:]
        let path: String
        let message: String
        var testDescription: String { name }
    }

    static let key = ConfigurationFixture.key

    static let serverCases: [ServerCase] = [
        ServerCase(name: "missing platform", yaml: "id: a\ntime_zone: UTC\nstart: 2025-01-01\ndrop: { folder: drop }", path: "servers[0].platform", message: "is required"),
        ServerCase(name: "unknown platform", yaml: "id: a\nplatform: mt6\ntime_zone: UTC\nstart: 2025-01-01\ndrop: { folder: drop }", path: "servers[0].platform", message: "mt4 or mt5"),
        ServerCase(name: "bad server id", yaml: "id: -a\nplatform: mt5\ntime_zone: UTC\nstart: 2025-01-01\ndrop: { folder: drop }", path: "servers[0].id", message: "is not valid"),
        ServerCase(name: "unknown zone", yaml: "id: a\nplatform: mt5\ntime_zone: Mars/Olympus\nstart: 2025-01-01\ndrop: { folder: drop }", path: "servers[0].time_zone", message: "ny-close"),
        ServerCase(name: "missing start", yaml: "id: a\nplatform: mt5\ntime_zone: UTC\ndrop: { folder: drop }", path: "servers[0].start", message: "is required"),
        ServerCase(name: "bad start", yaml: "id: a\nplatform: mt5\ntime_zone: UTC\nstart: 2025-02-30\ndrop: { folder: drop }", path: "servers[0].start", message: "YYYY-MM-DD"),
        ServerCase(name: "neither bridge nor drop", yaml: "id: a\nplatform: mt5\ntime_zone: UTC\nstart: 2025-01-01", path: "servers[0]", message: "needs a source"),
        ServerCase(name: "both bridge and drop", yaml: "id: a\nplatform: mt5\ntime_zone: UTC\nstart: 2025-01-01\ndrop: { folder: drop }\nbridge: { address: 'h:1', key_id: k, key_file: bridge.key }", path: "servers[0].drop", message: "not both"),
        ServerCase(name: "missing drop folder", yaml: "id: a\nplatform: mt5\ntime_zone: UTC\nstart: 2025-01-01\ndrop: { folder: nowhere }", path: "servers[0].drop.folder", message: "does not exist"),
        ServerCase(name: "bad address", yaml: "id: a\nplatform: mt5\ntime_zone: UTC\nstart: 2025-01-01\nbridge: { address: 'tcp://h', key_id: k, key_file: bridge.key }", path: "servers[0].bridge.address", message: "host:port"),
        ServerCase(name: "neither key_file nor key_env", yaml: "id: a\nplatform: mt5\ntime_zone: UTC\nstart: 2025-01-01\nbridge: { address: 'h:1', key_id: k }", path: "servers[0].bridge.key_file", message: "key_file"),
        ServerCase(name: "both key_file and key_env", yaml: "id: a\nplatform: mt5\ntime_zone: UTC\nstart: 2025-01-01\nbridge: { address: 'h:1', key_id: k, key_file: bridge.key, key_env: K }", environment: ["K": key], path: "servers[0].bridge.key_env", message: "only one"),
        ServerCase(name: "unreadable key file", yaml: "id: a\nplatform: mt5\ntime_zone: UTC\nstart: 2025-01-01\nbridge: { address: 'h:1', key_id: k, key_file: missing.key }", path: "servers[0].bridge.key_file", message: "does not exist"),
        ServerCase(name: "key variable unset", yaml: "id: a\nplatform: mt5\ntime_zone: UTC\nstart: 2025-01-01\nbridge: { address: 'h:1', key_id: k, key_env: K }", path: "servers[0].bridge.key_env", message: "not set"),
        ServerCase(name: "key too short", yaml: "id: a\nplatform: mt5\ntime_zone: UTC\nstart: 2025-01-01\nbridge: { address: 'h:1', key_id: k, key_env: K }", environment: ["K": "abcd"], path: "servers[0].bridge.key_env", message: "at least 64 hex digits"),
        ServerCase(name: "tls cert without key", yaml: "id: a\nplatform: mt5\ntime_zone: UTC\nstart: 2025-01-01\nbridge: { address: 'h:1', key_id: k, key_file: bridge.key, tls: { cert_file: client.pem } }", path: "servers[0].bridge.tls.key_file", message: "both cert_file and key_file"),
        ServerCase(name: "tls file missing", yaml: "id: a\nplatform: mt5\ntime_zone: UTC\nstart: 2025-01-01\nbridge: { address: 'h:1', key_id: k, key_file: bridge.key, tls: { ca_file: ca.pem } }", path: "servers[0].bridge.tls.ca_file", message: "does not exist"),
        ServerCase(name: "rules file missing", yaml: "id: a\nplatform: mt5\ntime_zone: UTC\nstart: 2025-01-01\ndrop: { folder: drop }\nrules_file: nope.json", path: "servers[0].rules_file", message: "cannot read the rules file"),
    ]

    @Test("server problems: each reported once, at its path", arguments: serverCases)
    func server(_ testCase: ServerCase) throws {
        let fixture = try ConfigurationFixture()
        let text = "servers:\n" + testCase.yaml.split(separator: "\n").enumerated().map { ($0.offset == 0 ? "  - " : "    ") + $0.element }.joined(separator: "\n")
        let problems = fixture.problems(text, environment: testCase.environment)
        try #require(problems.count == 1, "\(problems)")
        #expect(problems[0].path == testCase.path)
        #expect(problems[0].message.contains(testCase.message), "\(problems[0].message)")
        #expect(problems[0].line != nil)
    }

    @Test("the rules file is checked with the rules format: unknown keys, bad JSON, bad values")
    func rulesFile() throws {
        let fixture = try ConfigurationFixture()
        let cases: [(String, String)] = [
            (#"{"symbols": {"sufixes": []}}"#, "unknown key symbols.sufixes"),
            (#"{"symbols": "#, "not valid JSON"),
            (#"{"filters": {"unknown_group": "maybe"}}"#, "filters.unknown_group"),
            (#"{"symbols": {"map": {"X": ""}}}"#, "symbols.map.X: the canonical symbol is empty"),
        ]
        for (json, expected) in cases {
            try fixture.write("rules.json", json)
            let problems = fixture.problems(ConfigurationFixture.minimal(server: "rules_file: rules.json"))
            #expect(problems.count == 1, "\(problems)")
            #expect(problems.first?.path == "servers[0].rules_file")
            #expect(problems.first?.message.contains(expected) == true, "\(problems.first?.message ?? "")")
        }
    }

    @Test("every problem is reported at once, in file order")
    func several() throws {
        let fixture = try ConfigurationFixture()
        let text = """
            instance:
              lease_ttl: 30
            servers:
              - id: a
                platform: mt9
                time_zone: UTC
                start: 2025-01-01
                drop: { folder: drop }
                page_size: 0
              - id: a
                platform: mt5
                time_zone: Nowhere/City
                start: 2025-01-01
                bridge: { address: h, key_id: k, key_env: NOPE, tls: { cert_file: client.pem } }
                extra: 1
            """
        let problems = fixture.problems(text)
        #expect(problems.map(\.path) == [
            "instance.lease_ttl", "servers[0].platform", "servers[0].page_size", "servers[1].id", "servers[1].time_zone",
            "servers[1].bridge.address", "servers[1].bridge.key_env", "servers[1].bridge.tls.key_file", "servers[1].extra",
        ])
        #expect(problems.map { $0.line ?? 0 } == problems.map { $0.line ?? 0 }.sorted())
        #expect(problems.first { $0.path == "servers[1].id" }?.message.contains("already used by servers[0]") == true)
        #expect(problems.first?.line == 2)
        #expect(problems.first?.column == 14)
    }

    @Test("YAML syntax errors carry their line", arguments: [
        "servers:\n  - id: a\n   platform: mt5\n",
        "servers: [a, b\n",
        "servers:\n\t- id: a\n",
    ])
    func syntax(_ text: String) throws {
        let fixture = try ConfigurationFixture()
        let problems = fixture.problems(text)
        try #require(problems.count == 1, "\(problems)")
        #expect(problems[0].message.contains("not valid YAML"))
        #expect(problems[0].line != nil)
    }

    @Test("an empty file, a file that is not a mapping, no servers, and a missing file are reported")
    func shapes() throws {
        let fixture = try ConfigurationFixture()
        #expect(fixture.problems("").first?.message.contains("empty") == true)
        #expect(fixture.problems("- a\n").first?.message.contains("must be a mapping") == true)
        #expect(fixture.problems("database: { url: 'host=x' }\n").first?.path == "servers")
        #expect(fixture.problems("servers: []\n").first?.message.contains("at least one") == true)
        #expect(fixture.problems("servers: { id: a }\n").first?.message.contains("must be a list") == true)
        #expect(fixture.problems(ConfigurationFixture.minimal(server: "rules_file:\n  - a")).first?.message.contains("single value") == true)
        let missing = fixture.path("nope.yaml")
        #expect(throws: ConfigurationErrors.self) { try MTSyncConfiguration.load(path: missing, environment: [:]) }
        do {
            _ = try MTSyncConfiguration.load(path: missing, environment: [:])
        } catch {
            #expect(error.problems.first?.message.contains("does not exist") == true)
        }
    }
}
