import Foundation
import MTSyncApp
import MTSyncCore
import Testing

@Suite("Configuration: the loyalty platform's daily feed")
struct FeedConfigurationTests {
    static let queue = "sqs: { queue_url: 'https://sqs.eu-west-1.amazonaws.com/123456789012/feed.fifo' }"

    @Test("no feed section: the feed is off")
    func absent() throws {
        #expect(try ConfigurationFixture().load(ConfigurationFixture.minimal(server: "")).feed == nil)
    }

    @Test("the documented defaults: UTC day, USD, balance deposits, 500 rows and 256 000 bytes per message, every minute")
    func defaults() throws {
        let feed = try #require(try ConfigurationFixture().load(ConfigurationFixture.minimal(server: "", top: """
            feed: { trigger_id: 65f0c1e2a9b8c7d6e5f4a3b2, \(Self.queue) }
            """)).feed)
        #expect(feed.settings.day == .utc && feed.settings.rules.reportingCurrency == "USD" && feed.settings.envelope.source == "mtsync")
        #expect(feed.settings.deposits.kinds == ["balance"] && feed.settings.rules.centGroups.isEmpty && feed.settings.rules.rates.isEmpty && feed.fileIngest == nil)
        #expect(feed.settings.rules.centCurrencies == ["USC": "USD", "EUC": "EUR"])
        #expect(feed.settings.maximumRowsPerMessage == 500 && feed.settings.maximumMessageBytes == 256_000 && feed.every == .seconds(60))
    }

    @Test("feed.sqs without an endpoint goes where ingest.sqs goes (endpoint, region, profile), not to real AWS; its own endpoint wins")
    func feedQueueInheritsTheIngestEndpoint() throws {
        let ingest = """
            ingest:
              sqs: { queue_url: 'http://127.0.0.1:5000/123456789012/facts', endpoint: 'http://127.0.0.1:5000', region: us-east-1, profile: local }
            """
        let inherited = try #require(try ConfigurationFixture().load(ConfigurationFixture.minimal(server: "", top: ingest + """

            feed: { trigger_id: abc, sqs: { queue_url: 'http://127.0.0.1:5000/123456789012/feed.fifo' } }
            """)).feed?.sqs)
        #expect(inherited.endpoint == "http://127.0.0.1:5000" && inherited.region == "us-east-1" && inherited.profile == "local")
        #expect(inherited.effectiveEndpoint(environment: [:]) == "http://127.0.0.1:5000")
        let own = try #require(try ConfigurationFixture().load(ConfigurationFixture.minimal(server: "", top: ingest + """

            feed: { trigger_id: abc, sqs: { queue_url: 'https://sqs.eu-west-1.amazonaws.com/123456789012/feed.fifo', endpoint: 'https://sqs.eu-west-1.amazonaws.com', region: eu-west-1 } }
            """)).feed?.sqs)
        #expect(own.endpoint == "https://sqs.eu-west-1.amazonaws.com" && own.region == "eu-west-1" && own.profile == "local")
        let alone = SQSDestination(queueURL: "https://sqs.eu-west-1.amazonaws.com/1/q", region: nil, endpoint: nil, profile: nil, groupBy: "server")
        #expect(alone.effectiveEndpoint(environment: ["AWS_REGION": "eu-west-1"]) == "https://sqs.eu-west-1.amazonaws.com")
        #expect(alone.effectiveEndpoint(environment: ["AWS_ENDPOINT_URL": "http://localhost:4566"]) == "http://localhost:4566 (AWS_ENDPOINT_URL)")
    }

    @Test("every option; the file ingest's API key from a file, never printed; the queue shared from ingest.sqs")
    func everything() throws {
        let fixture = try ConfigurationFixture()
        let keyFile = fixture.folder.appending(path: "rai-key")
        try Data("rai-secret-key-123\n".utf8).write(to: keyFile)
        let configuration = try fixture.load(ConfigurationFixture.minimal(server: "", top: """
            ingest:
              sqs: { queue_url: 'https://sqs.eu-west-1.amazonaws.com/123456789012/facts' }
            feed:
              trigger_id: abc
              source: acme
              day: { zone: Asia/Dubai, starts_at: "06:30" }
              reporting_currency: eur
              cent: { groups: ["*cent*", "real\\\\USC*"], factor: "0.01", currencies: { usc: usd, EUX: eur } }
              rates: { USD: "0.92", gbp: "1.17" }
              deposits: { kinds: [balance, bonus], exclude_comments: ["*transfer*"] }
              file_ingest: { url: 'https://data-workflow.returning.ai/apis/v1/data-workflows/file-ingests', api_key_file: rai-key, above_rows: 50, max_rows: 100 }
              max_rows_per_message: 200
              every: 30s
            """))
        let feed = try #require(configuration.feed)
        #expect(feed.settings.day == TradingDayRule(zone: "Asia/Dubai", startMinutes: 6 * 60 + 30))
        #expect(feed.settings.rules.reportingCurrency == "EUR" && feed.settings.envelope.source == "acme")
        #expect(feed.settings.rules.centGroups == ["*cent*", "real\\USC*"] && feed.settings.rules.centCurrencies == ["USC": "USD", "EUX": "EUR"])
        #expect(feed.settings.rules.rates == ["USD": ExactDecimal(parsing: "0.92")!, "GBP": ExactDecimal(parsing: "1.17")!])
        #expect(feed.settings.deposits.kinds == ["balance", "bonus"] && feed.settings.deposits.excludedComments == ["*transfer*"])
        #expect(feed.sqs.queueURL.hasSuffix("/facts"), "shared from ingest.sqs")
        #expect(feed.fileIngest?.apiKey.reveal() == "rai-secret-key-123")
        #expect(feed.fileIngest?.aboveRows == 50 && feed.fileIngest?.maximumRowsPerFile == 100)
        #expect(!"\(configuration)".contains("rai-secret") && !String(reflecting: configuration).contains("rai-secret"))
    }

    @Test("mistakes are reported with their path", arguments: [
        ("feed: { \(queue) }", "feed.trigger_id", "is required"),
        ("feed: { trigger_id: x }", "feed.sqs", "needs an SQS queue"),
        ("feed: { trigger_id: x, day: Mars/Olympus, \(queue) }", "feed.day", "is not a time zone"),
        ("feed: { trigger_id: x, day: { zone: UTC, starts_at: '25:00' }, \(queue) }", "feed.day.starts_at", "HH:MM"),
        ("feed: { trigger_id: x, cent: { factor: '-1' }, \(queue) }", "feed.cent.factor", "positive decimal"),
        ("feed: { trigger_id: x, rates: { EUR: 'one' }, \(queue) }", "feed.rates.EUR", "positive decimal rate"),
        ("feed: { trigger_id: x, cent: { currencies: { USC: dollars } }, \(queue) }", "feed.cent.currencies.USC", "base currency"),
        ("feed: { trigger_id: x, cent: { currencies: [USC] }, \(queue) }", "feed.cent.currencies", "mapping of cent currency codes"),
        ("feed: { trigger_id: x, deposits: { kinds: [trade] }, \(queue) }", "feed.deposits.kinds", "not a kind"),
        ("feed: { trigger_id: x, reporting_currency: dollars, \(queue) }", "feed.reporting_currency", "three-letter"),
        ("feed: { trigger_id: x, file_ingest: { url: 'https://x.example/f' }, \(queue) }", "feed.file_ingest.api_key_env", "never the value itself"),
        ("feed: { trigger_id: x, max_message_bytes: 300000, \(queue) }", "feed.max_message_bytes", "1024 to 262144"),
        ("feed: { trigger_id: x, api_key: abc, \(queue) }", "feed.api_key", "unknown key"),
    ])
    func problems(yaml: String, path: String, message: String) throws {
        let problems = try ConfigurationFixture().problems(ConfigurationFixture.minimal(server: "", top: yaml))
        #expect(problems.contains { $0.path == path && $0.message.contains(message) }, "\(problems)")
    }
}
