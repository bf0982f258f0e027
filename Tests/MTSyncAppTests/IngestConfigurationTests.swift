import Foundation
import MTSyncApp
import MTSyncEngine
import Testing

@Suite("Configuration: the ingest destination and the relay")
struct IngestConfigurationTests {
    @Test("no ingest section: no relay, events wait in the outbox")
    func absent() throws {
        let fixture = try ConfigurationFixture()
        #expect(try fixture.load(ConfigurationFixture.minimal(server: "")).ingest == nil)
    }

    @Test("an SQS queue with its region, local endpoint and FIFO grouping; relay tuning overrides the defaults")
    func sqs() throws {
        let fixture = try ConfigurationFixture()
        let configuration = try fixture.load(ConfigurationFixture.minimal(server: "", top: """
            ingest:
              sqs: { queue_url: 'http://127.0.0.1:5000/123456789012/facts.fifo', region: eu-west-1, endpoint: 'http://127.0.0.1:5000', group_by: server }
              relay: { batch_size: 500, max_attempts: 7, claim_for: 30s }
            """))
        let ingest = try #require(configuration.ingest)
        #expect(ingest.destination == .sqs(SQSDestination(
            queueURL: "http://127.0.0.1:5000/123456789012/facts.fifo", region: "eu-west-1", endpoint: "http://127.0.0.1:5000", profile: nil, groupBy: "server")))
        #expect(ingest.relay == RelaySettings(batchSize: 500, maxAttempts: 7, claimFor: .seconds(30), idleInterval: .seconds(1)))
        #expect(ingest.relay.keepDelivered == .seconds(7 * 86_400), "delivered events are kept a week by default")
    }

    @Test("keep_delivered: a duration, or forever", arguments: [("36h", Duration?.some(.seconds(36 * 3_600))), ("forever", nil), ("Forever", nil)])
    func keepDelivered(text: String, expected: Duration?) throws {
        let configuration = try ConfigurationFixture().load(ConfigurationFixture.minimal(server: "", top: """
            ingest:
              sqs: { queue_url: 'https://sqs.eu-west-1.amazonaws.com/123456789012/facts' }
              relay: { keep_delivered: \(text) }
            """))
        #expect(configuration.ingest?.relay.keepDelivered == expected)
    }

    @Test("an HTTP endpoint with its signing secret from the environment; the secret never prints")
    func http() throws {
        let fixture = try ConfigurationFixture()
        let configuration = try fixture.load(ConfigurationFixture.minimal(server: "", top: """
            ingest:
              http: { url: 'https://ingest.example.com/v1/facts', secret_env: INGEST_SECRET, timeout: 5s }
            """), environment: ["INGEST_SECRET": "s3cr3t-hmac-key"])
        guard case .http(let http) = try #require(configuration.ingest).destination else {
            Issue.record("expected an HTTP destination")
            return
        }
        #expect(http.url == "https://ingest.example.com/v1/facts" && http.timeout == .seconds(5) && http.bearerToken == nil)
        #expect(http.secret.reveal() == "s3cr3t-hmac-key")
        #expect(!"\(configuration)".contains("s3cr3t") && !String(reflecting: configuration).contains("s3cr3t"))
    }

    @Test("ingest problems are reported at their path", arguments: [
        ("ingest: { }", "ingest", "names no destination"),
        ("ingest: { sqs: { region: x } }", "ingest.sqs.queue_url", "is required"),
        ("ingest: { sqs: { queue_url: 'not a url' } }", "ingest.sqs.queue_url", "queue URL"),
        ("ingest: { sqs: { queue_url: 'https://sqs.x/1/q', group_by: login } }", "ingest.sqs.group_by", "server_login"),
        ("ingest: { http: { url: 'https://x/y' } }", "ingest.http.secret_env", "is missing"),
        ("ingest: { http: { url: 'https://x/y', secret_env: NOPE } }", "ingest.http.secret_env", "not set"),
        ("ingest: { http: { url: 'https://x/y', secret_env: S }, sqs: { queue_url: 'https://sqs.x/1/q' } }", "ingest.http", "not both"),
        ("ingest: { sqs: { queue_url: 'https://sqs.x/1/q' }, relay: { max_attempts: 0 } }", "ingest.relay.max_attempts", "from 1 to 1000"),
        ("ingest: { sqs: { queue_url: 'https://sqs.x/1/q' }, relay: { keep_delivered: 10s } }", "ingest.relay.keep_delivered", "at least"),
    ])
    func problems(yaml: String, path: String, message: String) throws {
        let fixture = try ConfigurationFixture()
        let problems = fixture.problems(ConfigurationFixture.minimal(server: "", top: yaml), environment: ["S": "x"])
        try #require(problems.count == 1, "\(problems)")
        #expect(problems[0].path == path)
        #expect(problems[0].message.contains(message), "\(problems[0].message)")
    }

    @Test("plain http:// is refused to any host but this one unless the section allows it: credentials and traders' data would cross the network in clear (G8)", arguments: [
        ("ingest: { http: { url: 'http://ingest.example.com/v1', secret_env: S } }", "ingest.http.url"),
        ("ingest: { http: { url: 'http://127.evil.example/v1', secret_env: S } }", "ingest.http.url"),
        ("ingest: { http: { url: 'http://10.0.0.7:8080/v1', secret_env: S, allow_plain_http: false } }", "ingest.http.url"),
        ("ingest: { sqs: { queue_url: 'http://sqs.internal:4566/1/q' } }", "ingest.sqs.queue_url"),
        ("ingest: { sqs: { queue_url: 'https://sqs.x/1/q', endpoint: 'http://sqs.internal:4566' } }", "ingest.sqs.endpoint"),
        ("feed: { trigger_id: x, sqs: { queue_url: 'https://sqs.x/1/q', endpoint: 'http://sqs.internal:4566' } }", "feed.sqs.endpoint"),
        ("feed: { trigger_id: x, sqs: { queue_url: 'https://sqs.x/1/q' }, file_ingest: { url: 'http://files.example/f', api_key_env: S } }", "feed.file_ingest.url"),
    ])
    func plainHTTPRefused(yaml: String, path: String) throws {
        let problems = try ConfigurationFixture().problems(ConfigurationFixture.minimal(server: "", top: yaml), environment: ["S": "x"])
        try #require(problems.count == 1, "\(problems)")
        #expect(problems[0].path == path)
        #expect(problems[0].message.contains("plain http://") && problems[0].message.contains("allow_plain_http: true"), "\(problems[0].message)")
    }

    @Test("plain http:// to this host (a local SQS, a test ingest), or where the section allows it, is accepted", arguments: [
        "ingest: { http: { url: 'http://127.0.0.1:8080/v1', secret_env: S } }",
        "ingest: { http: { url: 'http://localhost:8080/v1', secret_env: S } }",
        "ingest: { http: { url: 'http://[::1]:8080/v1', secret_env: S } }",
        "ingest: { http: { url: 'http://10.0.0.7:8080/v1', secret_env: S, allow_plain_http: true } }",
        "ingest: { sqs: { queue_url: 'http://sqs.internal:4566/1/q', endpoint: 'http://sqs.internal:4566', allow_plain_http: yes } }",
        "feed: { trigger_id: x, sqs: { queue_url: 'https://sqs.x/1/q' }, file_ingest: { url: 'http://files.lan/f', api_key_env: S, allow_plain_http: true } }",
    ])
    func plainHTTPAccepted(yaml: String) throws {
        let problems = try ConfigurationFixture().problems(ConfigurationFixture.minimal(server: "", top: yaml), environment: ["S": "x"])
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("allow_plain_http takes true or false only")
    func plainHTTPFlag() throws {
        let problems = try ConfigurationFixture().problems(
            ConfigurationFixture.minimal(server: "", top: "ingest: { http: { url: 'http://10.0.0.7/v1', secret_env: S, allow_plain_http: maybe } }"), environment: ["S": "x"])
        #expect(problems.map(\.path) == ["ingest.http.allow_plain_http"], "\(problems)")
    }
}
