import Foundation
import MTSyncApp
import Testing

@Suite("Secret files every user of the host could read or change are warned about, not refused (security.md G11)")
struct SecretFilePermissionTests {
    static func bridgeConfiguration(_ fixture: ConfigurationFixture) -> String {
        """
        servers:
          - id: live
            platform: mt5
            time_zone: UTC
            start: 2025-01-01
            bridge: { address: 127.0.0.1:7465, key_id: k1, key_file: bridge.key }
        """
    }

    static func chmod(_ fixture: ConfigurationFixture, _ name: String, _ mode: Int) throws {
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: fixture.path(name))
    }

    @Test("the bridge key file: readable or writable by others warns, with the mode and what to do; 0600 and 0640 do not", arguments: [
        (0o644, "can read it (mode 644)"), (0o666, "can change it (mode 666)"), (0o604, "can read it (mode 604)"), (0o600, nil), (0o640, nil),
    ] as [(Int, String?)])
    func bridgeKey(mode: Int, warning: String?) throws {
        let fixture = try ConfigurationFixture()
        try Self.chmod(fixture, "bridge.key", mode)
        let configuration = try fixture.load(Self.bridgeConfiguration(fixture))
        if let warning {
            try #require(configuration.warnings.count == 1, "\(configuration.warnings)")
            #expect(configuration.warnings[0].path == "servers[0].bridge.key_file")
            #expect(configuration.warnings[0].message.contains(warning) && configuration.warnings[0].message.contains("chmod 600"))
            #expect(!configuration.warnings[0].message.contains(ConfigurationFixture.key), "the warning names the file, never the key")
        } else {
            #expect(configuration.warnings.isEmpty, "\(configuration.warnings)")
        }
    }

    @Test("the HTTP ingest's secret file and the feed's API key file too")
    func textSecrets() throws {
        let fixture = try ConfigurationFixture()
        try fixture.write("ingest.secret", "an-hmac-secret-of-some-length\n")
        try Self.chmod(fixture, "ingest.secret", 0o644)
        try Self.chmod(fixture, "returning-ai-key", 0o644)
        let configuration = try fixture.load(ConfigurationFixture.minimal(top: """
            ingest:
              http: { url: 'https://ingest.example.com/v1', secret_file: ingest.secret }
            feed:
              trigger_id: abc
              sqs: { queue_url: 'https://sqs.eu-west-1.amazonaws.com/123456789012/feed' }
              file_ingest: { url: 'https://files.example.com/f', api_key_file: returning-ai-key }
            """))
        #expect(configuration.warnings.map(\.path) == ["ingest.http.secret_file", "feed.file_ingest.api_key_file"])
    }
}
