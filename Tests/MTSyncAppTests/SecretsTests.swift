import Foundation
import MTSyncApp
import Testing

@Suite("Secrets never print")
struct SecretsTests {
    static let key = String(repeating: "7f", count: 40)

    @Test("a loaded configuration shows no key in description, debugDescription, interpolation or dump")
    func loaded() throws {
        let fixture = try ConfigurationFixture()
        let text = """
            database: { url: "postgresql://mtsync:Sup3rS3cret@db/mtsync" }
            servers:
              - id: a
                platform: mt5
                time_zone: UTC
                start: 2025-01-01
                bridge: { address: "h:1", key_id: k, key_env: KEY }
            """
        let configuration = try fixture.load(text, environment: ["KEY": Self.key])
        var dumped = ""
        dump(configuration, to: &dumped)
        let texts = [String(describing: configuration), String(reflecting: configuration), "\(configuration)", dumped]
            + configuration.servers.map(\.summary)
        for text in texts {
            #expect(!text.contains(Self.key))
            #expect(!text.contains("Sup3rS3cret"))
        }
        #expect(dumped.contains("(secret)") || dumped.contains("BridgeSecret"))
        guard case .bridge(let bridge) = configuration.servers[0].source else { return }
        #expect("\(bridge.key)" == "(secret)")
        #expect(String(reflecting: bridge.key) == "(secret)")
        #expect(bridge.key.revealHex() == Self.key)
        #expect(configuration.databaseURL?.description == "postgresql://mtsync:***@db/mtsync")
    }

    @Test("bad keys are reported without the key", arguments: [
        String(repeating: "zz", count: 40),       // not hex
        String(repeating: "ab", count: 31) + "a",  // too short, odd
        String(repeating: "ab", count: 32) + "a",  // odd
    ])
    func badKey(_ badKey: String) throws {
        let fixture = try ConfigurationFixture()
        try fixture.write("bad.key", badKey)
        let text = """
            servers:
              - id: a
                platform: mt5
                time_zone: UTC
                start: 2025-01-01
                bridge: { address: "h:1", key_id: k, key_file: bad.key }
              - id: b
                platform: mt5
                time_zone: UTC
                start: 2025-01-01
                bridge: { address: "h:1", key_id: k, key_env: KEY }
            """
        do {
            _ = try fixture.load(text, environment: ["KEY": badKey])
            Issue.record("a bad key must be refused")
        } catch {
            #expect(error.problems.map(\.path) == ["servers[0].bridge.key_file", "servers[1].bridge.key_env"])
            #expect(!error.description.contains(badKey))
            #expect(!String(reflecting: error).contains(badKey))
        }
    }

    @Test("a key pasted where a path, a variable name or a key id belongs is refused without echoing it", arguments: [
        ("key_file", "key_id: k, key_file: \(key)"),
        ("key_env", "key_id: k, key_env: \(key)"),
        ("key_id", "key_id: \(key), key_file: bridge.key"),
    ])
    func pastedKey(_ field: String, _ bridge: String) throws {
        let fixture = try ConfigurationFixture()
        let text = "servers:\n  - { id: a, platform: mt5, time_zone: UTC, start: 2025-01-01, bridge: { address: 'h:1', \(bridge) } }\n"
        let problems = fixture.problems(text)
        #expect(problems.map(\.path) == ["servers[0].bridge.\(field)"], "\(problems)")
        #expect(!problems.description.contains(Self.key))
    }

    @Test("a key pasted as a mapping key is reported without it")
    func keyAsMappingKey() throws {
        let fixture = try ConfigurationFixture()
        let problems = fixture.problems(ConfigurationFixture.minimal(server: "\(Self.key): 1"))
        #expect(problems.map(\.path) == ["servers[0].(hidden)"])
        #expect(!problems.description.contains(Self.key))
    }

    @Test("database passwords are masked in every form", arguments: [
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        ("postgres://u@h/db?password=pw&sslmode=require", "postgres://u@h/db?password=***&sslmode=require"),
        ("host=h password=pw dbname=db", "host=h password=*** dbname=db"),
        ("host=h password = 'p w' dbname=db", "host=h password = *** dbname=db"),
        ("host=h dbname=db", "host=h dbname=db"),
        ("postgresql://h/db", "postgresql://h/db"),
    ])
    func masking(_ input: String, _ expected: String) {
        #expect(DatabaseURL(input).description == expected)
        #expect(String(reflecting: DatabaseURL(input)) == expected)
    }

    @Test("an unusable database URL is reported without its password")
    func badURL() throws {
        let fixture = try ConfigurationFixture()
        let problems = fixture.problems(ConfigurationFixture.minimal(top: "database: { url: 'mtsync:Sup3rS3cret@db' }"))
        #expect(problems.map(\.path) == ["database.url"])
        #expect(!problems.description.contains("Sup3rS3cret"))
        let fromEnvironment = fixture.problems(ConfigurationFixture.minimal(), environment: ["MTSYNC_DATABASE_URL": "u:Sup3rS3cret@db"])
        #expect(fromEnvironment.map(\.path) == ["MTSYNC_DATABASE_URL (environment)"])
        #expect(!fromEnvironment.description.contains("Sup3rS3cret"))
    }
}
