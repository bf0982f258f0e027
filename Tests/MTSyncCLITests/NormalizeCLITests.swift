import Foundation
import Testing

@Suite("mtsync normalize")
struct NormalizeCLITests {
    static func run(_ arguments: [String], stdin: String) async throws -> CLI.Result {
        let input = FileManager.default.temporaryDirectory.appending(path: "normalize-\(UUID().uuidString).ndjson")
        try Data(stdin.utf8).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        return try await CLI.launch(arguments, stdinFile: input)
    }

    static func jsonLines(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test("good MT5 records become one fact line each on stdout; exit 0")
    func mt5Facts() async throws {
        let input = """
            {"Deal":"9007199254740993","Login":"1001","Action":"0","Entry":"0","TimeMsc":"1743305400123","Symbol":"EURUSD.pro","VolumeExt":"105000000","Price":"1.08123","Commission":"-3.50"}

            {"Deal":5003,"Login":1001,"Action":2,"TimeMsc":1743391800000,"Profit":1000.10,"Comment":"Deposit"}
            """
        let result = try await Self.run(["normalize", "--platform", "mt5", "--server", "live-mt5", "--zone", "ny-close"], stdin: input)
        #expect(result.status == 0, "\(result.stderr)")
        let facts = Self.jsonLines(result.stdout)
        #expect(facts.count == 2)
        #expect(result.stdout.contains(#""deal":9007199254740993"#), "tickets above 2^53 are printed with all their digits")
        #expect(facts.first?["lots"] as? String == "1.05")
        #expect(facts.first?["symbol_canonical"] as? String == "EURUSD")
        #expect(facts.first?["time_utc"] as? String == "2025-03-30T00:30:00.123Z")
        #expect(facts.first?["server_time"] as? String == "2025-03-30T03:30:00.123")
        #expect(facts.first?["idempotency_key"] as? String == "live-mt5:9007199254740993:1")
        #expect(facts.last?["net"] as? String == "1000.1")
        let summary = Self.jsonLines(result.stderr).last?["summary"] as? [String: Any]
        #expect(summary?["facts"] as? Int == 2)
        #expect(summary?["rejected"] as? Int == 0)
    }

    @Test("each bad line goes to stderr with its line number and reason; the rest go on; exit 65")
    func rejections() async throws {
        let input = """
            {"Deal":1,"Login":"abc","Action":0,"Entry":0,"TimeMsc":1,"VolumeExt":1}
            not json
            {"Deal":2,"Login":7,"Action":99,"TimeMsc":1743391800000}
            """
        let result = try await Self.run(["normalize", "--platform", "mt5", "--server", "s", "--zone", "+02:00"], stdin: input)
        #expect(result.status == 65)
        #expect(Self.jsonLines(result.stdout).count == 1, "the good line still produced its fact")
        let errors = Self.jsonLines(result.stderr)
        #expect(errors.first?["line"] as? Int == 1)
        #expect(errors.first?["field"] as? String == "Login")
        #expect(errors.first?["value"] as? String == "abc")
        #expect(errors[1]["line"] as? Int == 2)
        #expect(errors[1]["error"] as? String == "invalid_json")
        let summary = errors.last?["summary"] as? [String: Any]
        #expect((summary?["unknown_actions"] as? [String: Int])?["99"] == 1, "unknown action codes are counted")
    }

    @Test("MT4 records with a rules file: group filters skip demo accounts and currencies come from accounts")
    func mt4WithRules() async throws {
        let rules = FileManager.default.temporaryDirectory.appending(path: "rules-\(UUID().uuidString).json")
        try Data(#"{"filters":{"groups":["real\\*"]},"accounts":{"5005":{"group":"real\\A","currency":"EUR"},"6006":{"group":"demo\\B"}}}"#.utf8).write(to: rules)
        defer { try? FileManager.default.removeItem(at: rules) }
        let input = """
            {"order":88001,"login":5005,"symbol":"xauusd","cmd":0,"volume":150,"open_time":1735725600,"close_time":1735732800,"open_price":2620.5,"close_price":2625,"commission":-7,"storage":-1.25,"profit":675,"taxes":0}
            {"order":88002,"login":6006,"symbol":"eurusd","cmd":1,"volume":100,"open_time":1735725600,"close_time":0}
            """
        let result = try await Self.run(["normalize", "--platform", "mt4", "--server", "live-mt4", "--zone", "Europe/Athens", "--rules", rules.path], stdin: input)
        #expect(result.status == 0, "\(result.stderr)")
        let facts = Self.jsonLines(result.stdout)
        #expect(facts.map { $0["leg"] as? String } == ["open", "close"])
        #expect(facts.allSatisfy { $0["currency"] as? String == "EUR" })
        let summary = Self.jsonLines(result.stderr).last?["summary"] as? [String: Any]
        #expect((summary?["skipped"] as? [String: Int])?["group_not_included"] == 1)
    }

    @Test("--zone=-05:00 with extreme times: each line refused with its reason, the good line normalized, no crash; exit 65", arguments: ["-05:00", "America/New_York", "+14:00"])
    func extremeTimes(zone: String) async throws {
        let input = """
            {"Deal":1,"Login":7,"Action":0,"Entry":0,"TimeMsc":9223372036854775807,"VolumeExt":100000000}
            {"Deal":2,"Login":7,"Action":2,"Time":9223372036854775,"Profit":1}
            {"Deal":3,"Login":7,"Action":2,"Time":9223372036854775807,"Profit":1}
            {"Deal":4,"Login":7,"Action":2,"TimeMsc":253402300799999,"Profit":1}
            {"Deal":5,"Login":7,"Action":2,"TimeMsc":946684799999,"Profit":1}
            {"Deal":6,"Login":7,"Action":2,"TimeMsc":18446744073709551615,"Profit":1}
            {"Deal":7,"Login":7,"Action":2,"TimeMsc":1743391800000,"Profit":"-0"}
            """
        let result = try await Self.run(["normalize", "--platform", "mt5", "--server", "s", "--zone=\(zone)"], stdin: input)
        #expect(result.status == 65, "\(result.stderr)")
        #expect(Self.jsonLines(result.stdout).count == 1, "the good line still produced its fact")
        let errors = Self.jsonLines(result.stderr).dropLast()
        #expect(errors.map { $0["line"] as? Int } == [1, 2, 3, 4, 5, 6])
        #expect(errors.map { $0["rule"] as? String } == ["timeImplausible", "timeImplausible", "timeImplausible", "timeImplausible", "timeImplausible", "outOfRange"])
        #expect(errors.allSatisfy { ($0["reason"] as? String)?.contains("2000-01-01") == true || $0["rule"] as? String == "outOfRange" })
    }

    @Test("--earliest and --ahead set the window as plausible_times does")
    func window() async throws {
        let input = #"{"Deal":5,"Login":7,"Action":2,"TimeMsc":946684799999,"Profit":1}"#
        let result = try await Self.run(["normalize", "--platform", "mt5", "--server", "s", "--zone=-05:00", "--earliest", "1999-01-01", "--ahead", "1h"], stdin: input)
        #expect(result.status == 0, "\(result.stderr)")
        let bad = try await Self.run(["normalize", "--platform", "mt5", "--server", "s", "--zone=-05:00", "--ahead", "5"], stdin: input)
        #expect(bad.status == 64)
    }

    @Test("a bad zone is a usage error (64); a bad rules file a configuration error (78)")
    func badOptions() async throws {
        #expect(try await Self.run(["normalize", "--platform", "mt5", "--server", "s", "--zone", "Mars/Olympus"], stdin: "").status == 64)
        let rules = FileManager.default.temporaryDirectory.appending(path: "bad-rules-\(UUID().uuidString).json")
        try Data(#"{"filters":{"exclude_logins":["10-2"]}}"#.utf8).write(to: rules)
        defer { try? FileManager.default.removeItem(at: rules) }
        let result = try await Self.run(["normalize", "--platform", "mt5", "--server", "s", "--zone", "UTC", "--rules", rules.path], stdin: "")
        #expect(result.status == 78)
        #expect(result.stderr.contains("rules file"))
    }

    @Test("the example files in docs/examples normalize as the README and the demo show")
    func documentedExamples() async throws {
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../docs/examples").standardizedFileURL
        let result = try await CLI.launch(
            ["normalize", "--platform", "mt5", "--server", "demo-mt5", "--zone", "ny-close", "--rules", examples.appending(path: "rules.json").path],
            stdinFile: examples.appending(path: "mt5-deals.ndjson"))
        #expect(result.status == 65, "one sample line is malformed on purpose")
        let facts = Self.jsonLines(result.stdout)
        #expect(facts.map { $0["idempotency_key"] as? String } == ["demo-mt5:700001:1", "demo-mt5:700002:1", "demo-mt5:700003:1", "demo-mt5:700004:1", "demo-mt5:700006:1"])
        #expect(facts[1]["net"] as? String == "90.85")
        #expect(facts[3]["technical"] as? Bool == true)
        let summary = Self.jsonLines(result.stderr).last?["summary"] as? [String: Any]
        #expect((summary?["skipped"] as? [String: Int])?["group_not_included"] == 1, "the demo account is filtered")
    }
}
