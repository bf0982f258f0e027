import Foundation
import MTSyncApp
import MTSyncFuzzing
import Testing

@Suite("Fuzzing regressions: inputs that once broke a parser")
struct RegressionTests {
    /// The files under Regressions/<target>/.
    static func inputs(_ target: FuzzTarget) -> [(name: String, bytes: [UInt8])] {
        SeedCorpus.load(directory: FuzzingFixtures.regressions.appending(path: target.rawValue)).map { ($0.name, $0.bytes) }
    }

    @Test("crash inputs found by fuzzing keep every property", arguments: FuzzTarget.allCases)
    func replay(target: FuzzTarget) {
        for input in Self.inputs(target) {
            #expect(throws: Never.self, "Regressions/\(target.rawValue)/\(input.name)") { try target.check(input.bytes) }
        }
    }

    @Test("edge cases of the bridge line decoder keep every property", arguments: [
        "",
        "\r",
        "{",
        "\u{FEFF}{\"type\":\"pong\",\"id\":\"p1\"}",
        #"{"data":{"Deal":1,"Login":"2"},"id":"r1","type":"deal"}"#,
        #"{"type":"deal","id":"r1","data":{"ApiData":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}"#,
        #"{"type":"x","v":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
        #"{"type":"hello","versions":[1],"nonce":"\ud800"}"#,
        #"{"type":"hello","versions":[1e999,-0,99999999999999999999],"nonce":"\ud83d\ude00"}"#,
        #"{"type":"end","id":"r1","count":99999999999999999999,"more":false}"#,
        #"{"type":"deal","id":"r1","data":{"Deal":"18446744073709551616","TimeMsc":"-9223372036854775809","VolumeExt":"1e400","Price":"1e-400","Action":"-0"}}"#,
        #"{"type":"trade","id":"r1","data":{"order":1,"login":2,"cmd":0,"open_time":253402300799999,"close_time":-1,"volume":"1E+2"}}"#,
        #"{"Deal":1,"Deal":null,"\u0044eal":5,"Login":[1],"Login":"x"}"#,
        #"{"type":"change","id":"r1","data":{"seq":1,"op":"delete","record":{"Deal":null,"order":1}}}"#,
        #"{"type":"type","type":"deal","id":"r1"}"#,
    ])
    func bridgeLineEdges(line: String) {
        #expect(throws: Never.self) { try FuzzTarget.bridgeLine.check(Array(line.utf8)) }
    }

    /// An input named for the test report (the bytes themselves would flood it).
    struct Input: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        init(_ name: String, _ bytes: [UInt8]) { (self.name, self.bytes) = (name, bytes) }
        init(_ text: String) { self.init(text, Array(text.utf8)) }
        var testDescription: String { name }
    }

    @Test("edge cases of the CSV drop reader keep every property", arguments: [
        Input("a byte order mark alone", [0xEF, 0xBB, 0xBF]), Input("half a byte order mark", [0xEF, 0xBB]), Input("\""), Input("\r"),
        Input("a,b\r"), Input("\"a\"\"\r\n\r\n"), Input("Deal,Login,TimeMsc,Deal\n1,2,3,4\n"),
        Input(" Deal ,Login,TimeMsc\n18446744073709551615,0,00000000000000000001\n"),
        Input("invalid UTF-8 after the last line", Array("login\n1\n".utf8) + [0xC3, 0x28]),
        Input("one 3000-byte field", Array(String(repeating: "x", count: 3_000).utf8)),
        Input("a manifest at the Int64 limits", Array(#"{"file":"deals-20250101T000000-20250102T000000-0001.csv","server_id":"live-mt5","stream":"deals","from_ms":-9223372036854775808,"to_ms":9223372036854775807,"rows":0,"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}"#.utf8)),
        Input(#"{"rows":1e3,"from_ms":1.5}"#), Input("-T000000-T000000-0000.csv"), Input("deals-20250101T000000-20250102T000000-0001.csv"),
    ])
    func csvDropEdges(input: Input) {
        #expect(throws: Never.self) { try FuzzTarget.csvDrop.check(input.bytes) }
    }

    @Test("edge cases of the configuration parser keep every property and show no secret", arguments: [
        "", "~", "[", "\t", "servers:", "servers: [" + String(repeating: "[", count: 200), "a: &a [*a]", "&a x: *a", "? [a]: b",
        "servers:\n  - id: s\n    platform: mt5\n    time_zone: UTC\n    start: 2025-01-01\n    bridge: { address: 'b:1', key_id: k, key_env: FUZZ_BAD_KEY }",
        "servers:\n  - id: s\n    platform: mt5\n    time_zone: UTC\n    start: 2025-01-01\n    bridge: { address: 'b:1', key_id: k, key_file: bad.key }",
        "servers:\n  - id: s\n    platform: mt5\n    time_zone: UTC\n    start: 2025-01-01\n    bridge: { address: 'b:1', key_id: k, key_env: MTSYNC_KEY_LIVE_MT5 }\n    rules_file: live-mt5.key",
        "servers:\n  - { id: s, platform: mt4, time_zone: UTC, start: 2025-01-01, drop: { folder: drop } }\ningest: { http: { url: 'http://h', secret_file: ingest.secret, bearer_token_env: FUZZ_BEARER_TOKEN } }",
        "database: { url: 'postgresql://u:hunter2@h/db' }\nservers: []",
        "database: { url: 'host=h password = \\'p w\\' dbname=d' }\nservers: 1",
    ])
    func configurationEdges(yaml: String) {
        #expect(throws: Never.self) { try FuzzTarget.configuration.check(Array(yaml.utf8)) }
    }

    // Found by fuzzing: Yams composes its node tree recursively, and 4 216 `{` overflowed the stack (a crash of
    // `mtsync check-config` and of the daemon at start-up). The reader now measures the nesting first.
    static func deepYAML(_ shape: String) -> String {
        switch shape {
        case "flow sequences": "servers: " + String(repeating: "[", count: 100_000)
        case "flow mappings": "servers: " + String(repeating: "{", count: 100_000)
        case "compact block sequences": "servers:\n" + String(repeating: "- ", count: 50_000) + "x"
        default: (0..<2_000).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n")
        }
    }

    @Test("a configuration nested deeper than 64 levels is refused with its location, however deep, not a crash", arguments: [
        "flow sequences", "flow mappings", "compact block sequences", "indented block mappings",
    ])
    func deepNesting(shape: String) throws {
        let error = try #require(throws: ConfigurationErrors.self) {
            try MTSyncConfiguration.parse(yaml: Self.deepYAML(shape), file: "deep.yaml", baseDirectory: "/nonexistent", environment: [:])
        }
        #expect(error.problems.count == 1)
        #expect(error.problems.first?.message.contains("nested more than 64 levels deep") == true, "\(error.problems)")
        #expect(error.problems.first?.line != nil)
    }

    @Test("a configuration nested 64 levels deep is read (and refused for what it says, not for its depth)")
    func nestingAtTheLimit() throws {
        let yaml = "servers: " + String(repeating: "[", count: 63) + String(repeating: "]", count: 63)
        let error = try #require(throws: ConfigurationErrors.self) {
            try MTSyncConfiguration.parse(yaml: yaml, file: "deep.yaml", baseDirectory: "/nonexistent", environment: [:])
        }
        #expect(!error.problems.contains { $0.message.contains("levels deep") }, "\(error.problems)")
    }
}
