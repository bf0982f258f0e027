import Foundation
import MTSyncApp
import Testing

@Suite("Configuration: monitoring endpoints, log lines, and the secrets to redact")
struct OperationsConfigurationTests {
    @Test("neither section: no monitoring server; logfmt at info")
    func defaults() throws {
        let configuration = try ConfigurationFixture().load(ConfigurationFixture.minimal())
        #expect(configuration.monitoring == nil)
        #expect(configuration.logging == LoggingConfiguration(format: "logfmt", level: "info", subsystemLevels: [:]))
    }

    @Test("every option")
    func everything() throws {
        let configuration = try ConfigurationFixture().load(ConfigurationFixture.minimal(top: """
            monitoring:
              listen: 0.0.0.0:9464
              refresh: 30s
            logging:
              format: json
              level: warning
              levels: { sync: debug, relay: info, operations: error }
            """))
        #expect(configuration.monitoring == MonitoringConfiguration(host: "0.0.0.0", port: 9464, refresh: .seconds(30)))
        #expect(configuration.logging == LoggingConfiguration(format: "json", level: "warning", subsystemLevels: ["sync": "debug", "relay": "info", "operations": "error"]))
    }

    @Test("listen addresses", arguments: [
        ("127.0.0.1:9464", "127.0.0.1", 9464), ("[::1]:9464", "::1", 9464), (":9464", "0.0.0.0", 9464), ("metrics.internal:0", "metrics.internal", 0),
    ])
    func listen(text: String, host: String, port: Int) throws {
        let address = try #require(MonitoringConfiguration.parseListen(text))
        #expect(address.host == host && address.port == port)
    }

    @Test("mistakes are reported with their path", arguments: [
        ("monitoring: { refresh: 5s }", "monitoring.listen", "is required"),
        ("monitoring: { listen: 9464 }", "monitoring.listen", "host:port"),
        ("monitoring: { listen: 'localhost:99999' }", "monitoring.listen", "host:port"),
        ("monitoring: { listen: ':9464', refresh: 0s }", "monitoring.refresh", "at least"),
        ("logging: { format: text }", "logging.format", "logfmt"),
        ("logging: { level: verbose }", "logging.level", "must be one of"),
        ("logging: { levels: { sync: loud } }", "logging.levels.sync", "must be one of"),
        ("logging: { levels: { database: info } }", "logging.levels.database", "unknown key"),
    ])
    func problems(yaml: String, path: String, message: String) throws {
        let problems = try ConfigurationFixture().problems(ConfigurationFixture.minimal(top: yaml))
        #expect(problems.contains { $0.path == path && $0.message.contains(message) }, "\(problems)")
    }

    @Test("the secrets to redact: the bridge key, the ingest's HMAC secret and token, the file-ingest key, database passwords, AWS secrets")
    func secretsForRedaction() throws {
        let fixture = try ConfigurationFixture()
        let key = String(repeating: "a1", count: 32)
        let configuration = try fixture.load("""
            database:
              url: postgresql://mtsync:pa%24%24word@db.internal/mtsync
            servers:
              - id: srv
                platform: mt5
                time_zone: UTC
                start: 2025-01-01
                bridge: { address: 'bridge.internal:7465', key_id: k1, key_env: BRIDGE_KEY }
            ingest:
              http: { url: 'https://ingest.example/events', secret_env: HMAC, bearer_token_env: TOKEN }
            feed:
              trigger_id: t
              sqs: { queue_url: 'https://sqs.eu-west-1.amazonaws.com/123456789012/feed' }
              file_ingest: { url: 'https://files.example/f', api_key_env: API_KEY }
            """, environment: ["BRIDGE_KEY": key, "HMAC": "hmac-secret-value", "TOKEN": "bearer-token-value", "API_KEY": "file-api-key-value"])
        let secrets = Set(configuration.secretsForRedaction(environment: [
            "AWS_SECRET_ACCESS_KEY": "aws-secret-value", "PGPASSWORD": "pg-env-password", "MTSYNC_DATABASE_URL": "host=db password='quoted pw' dbname=x",
        ]))
        for expected in [key, key.uppercased(), "hmac-secret-value", "bearer-token-value", "file-api-key-value", "pa%24%24word", "pa$$word",
                         "aws-secret-value", "pg-env-password", "quoted pw"] {
            #expect(secrets.contains(expected), "\(expected) is not redacted")
        }
    }
}
