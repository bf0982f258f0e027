import Foundation
import MTSyncApp
import MTSyncCore
import Testing

@Suite("Loading the configuration file")
struct ConfigurationLoadTests {
    @Test("the example file loads, with every option it shows")
    func example() throws {
        let fixture = try ConfigurationFixture()
        let configuration = try fixture.load(try fixture.exampleText(), environment: ["MTSYNC_KEY_LIVE_MT5": ConfigurationFixture.key])
        #expect(configuration.databaseURL?.connectionString == "postgresql://mtsync@db.internal/mtsync?sslmode=verify-full")
        #expect(configuration.instanceID == "mtsync-a")
        #expect(configuration.leaseTTL == .seconds(30))
        try #require(configuration.servers.count == 2)
        #expect(configuration.feed?.fileIngest?.apiKey.reveal() == "example-feed-api-key")
        #expect(configuration.monitoring == MonitoringConfiguration(host: "127.0.0.1", port: 9464, refresh: .seconds(15)))
        #expect(configuration.logging == LoggingConfiguration(format: "logfmt", level: "info", subsystemLevels: ["operations": "warning"]))

        let mt5 = configuration.servers[0]
        #expect(mt5.id.rawValue == "live-mt5")
        #expect(mt5.platform == .mt5)
        #expect(mt5.zoneName == "ny-close")
        #expect(mt5.start == 1_735_689_600_000)
        #expect(mt5.pollInterval == .seconds(5))
        #expect(mt5.sync.lookback == .seconds(3600))
        #expect(mt5.sync.pageSize == 2000)
        #expect(mt5.pollJitter == 0.1)
        #expect(mt5.reconcileEvery == .seconds(86_400))
        #expect(mt5.reconcileWindow == .seconds(3 * 86_400))
        #expect(mt5.sync.accountsEvery == .seconds(900) && mt5.sync.symbolsEvery == .seconds(3600) && mt5.sync.dailyEvery == .seconds(3600))
        #expect(mt5.sync.pendingWarnAfter == .seconds(3600))
        guard case .bridge(let bridge) = mt5.source else {
            Issue.record("live-mt5 should be a bridge server")
            return
        }
        #expect(bridge.host == "bridge.internal")
        #expect(bridge.port == 7465)
        #expect(bridge.keyID == "mtsync-1")
        #expect(bridge.key.revealHex() == ConfigurationFixture.key)
        #expect(bridge.tls == TLSFiles(caFile: fixture.path("bridge-ca.pem"), certFile: fixture.path("client.pem"), keyFile: fixture.path("client-key.pem"), serverName: "bridge.internal"))
        #expect(bridge.connectTimeout == .seconds(10))
        #expect(bridge.readTimeout == .seconds(60))
        #expect(bridge.requestTimeout == .seconds(600), "the documented default")
        let settings = try mt5.normalizerSettings()
        #expect(settings.symbols.canonical("GOLD.x") == "XAUUSD")
        #expect(settings.symbols.info(forCanonical: "US30")?.contractSize == ExactDecimal(parsing: "10"))
        #expect(settings.filter.excludeLogins.contains(90000...90999))

        let mt4 = configuration.servers[1]
        #expect(mt4.id.rawValue == "live-mt4")
        #expect(mt4.platform == .mt4)
        #expect(mt4.zone.name == "Europe/Athens")
        #expect(mt4.source == .drop(.init(folder: fixture.path("drop"))))
        #expect(mt4.pollInterval == .seconds(60))
        #expect(mt4.sync.lookback == .seconds(7200))
        #expect(mt4.sync.pageSize == 5000)
        #expect(mt4.reconcileEvery == nil)
        #expect(mt4.rules.symbols?.suffixes == [".m4"])
        #expect(mt4.summary.contains("reconcile off"))
    }

    @Test("what a file leaves out takes the documented defaults")
    func defaults() throws {
        let fixture = try ConfigurationFixture()
        let configuration = try fixture.load(ConfigurationFixture.minimal())
        #expect(configuration.databaseURL == nil)
        #expect(configuration.instanceID == MTSyncConfiguration.defaultInstanceID)
        #expect(configuration.instanceID.hasSuffix(":\(ProcessInfo.processInfo.processIdentifier)"))
        #expect(configuration.leaseTTL == .seconds(30))
        let server = try #require(configuration.servers.first)
        #expect(server.pollInterval == .seconds(10))
        #expect(server.sync.lookback == .seconds(7200))
        #expect(server.sync.lookbackEvery == .seconds(60))
        #expect(server.sync.pageSize == 5000)
        #expect(server.pollJitter == 0.1)
        #expect(server.reconcileEvery == .seconds(86_400))
        #expect(server.reconcileWindow == .seconds(259_200))
        #expect(server.rules == NormalizationRules())
        #expect(server.source == .drop(.init(folder: fixture.path("drop"))))
    }

    @Test("defaults apply to every server; a server's own value wins, key by key")
    func defaultsSection() throws {
        let fixture = try ConfigurationFixture()
        let text = ConfigurationFixture.minimal(
            server: "lookback: 30m\nreconcile: { window: 1d }",
            top: "defaults: { poll_interval: 2s, lookback: 4h, lookback_every: 0s, page_size: 100, poll_jitter: 0%, reconcile: { every: 12h, window: 2d } }"
        )
        let server = try #require(try fixture.load(text).servers.first)
        #expect(server.pollInterval == .seconds(2))
        #expect(server.sync.lookback == .seconds(1800))
        #expect(server.sync.lookbackEvery == .zero)
        #expect(server.summary.contains("lookback 30m every pull"))
        #expect(server.sync.pageSize == 100)
        #expect(server.pollJitter == 0)
        #expect(server.reconcileEvery == .seconds(12 * 3600))
        #expect(server.reconcileWindow == .seconds(86_400))
    }

    @Test("plausible_times: from 2000-01-01, a day ahead by default; defaults and each server may set earliest and ahead")
    func plausibleTimes() throws {
        let fixture = try ConfigurationFixture()
        let standard = try #require(try fixture.load(ConfigurationFixture.minimal()).servers.first)
        #expect(standard.plausibleTimes == PlausibleTimeRule(earliestServerMilliseconds: 946_684_800_000, aheadMilliseconds: 86_400_000))
        #expect(try standard.normalizerSettings().plausibleTimes == .standard)
        let text = ConfigurationFixture.minimal(
            server: "plausible_times: { ahead: 2h }", top: "defaults: { plausible_times: { earliest: 1995-01-01, ahead: 3d } }")
        let server = try #require(try fixture.load(text).servers.first)
        #expect(server.plausibleTimes == PlausibleTimeRule(earliestServerMilliseconds: 788_918_400_000, aheadMilliseconds: 7_200_000))
        #expect(try server.normalizerSettings().plausibleTimes == server.plausibleTimes)
        #expect(server.summary.hasSuffix(", plausible times from 1995-01-01, up to 2h ahead"))
    }

    @Test("a plausible_times that is not one is refused at its key", arguments: [
        ("plausible_times: { earliest: 9999-12-31 }", "servers[0].plausible_times.earliest"),
        ("plausible_times: { earliest: yesterday }", "servers[0].plausible_times.earliest"),
        ("plausible_times: { ahead: 30s }", "servers[0].plausible_times.ahead"),
        ("plausible_times: { ahead: 5 }", "servers[0].plausible_times.ahead"),
        ("plausible_times: { latest: 2030-01-01 }", "servers[0].plausible_times.latest"),
    ])
    func badPlausibleTimes(line: String, path: String) throws {
        let problems = try ConfigurationFixture().problems(ConfigurationFixture.minimal(server: line))
        #expect(problems.map(\.path) == [path], "\(problems)")
    }

    @Test("MTSYNC_DATABASE_URL overrides database.url")
    func databaseOverride() throws {
        let fixture = try ConfigurationFixture()
        let text = ConfigurationFixture.minimal(top: "database: { url: 'postgresql://file@db/mtsync' }")
        #expect(try fixture.load(text).databaseURL?.connectionString == "postgresql://file@db/mtsync")
        let overridden = try fixture.load(text, environment: ["MTSYNC_DATABASE_URL": "host=other dbname=mtsync"])
        #expect(overridden.databaseURL?.connectionString == "host=other dbname=mtsync")
    }

    @Test("relative paths are taken from the configuration file's folder; the key file may end in a newline")
    func relativePaths() throws {
        let fixture = try ConfigurationFixture()
        let text = """
            servers:
              - id: srv
                platform: mt4
                time_zone: +02:00
                start: 2025-03-01T10:30
                bridge: { address: "[::1]:7465", key_id: k1, key_file: bridge.key, tls: {} }
            """
        let server = try #require(try fixture.load(text).servers.first)
        #expect(server.start == 1_740_825_000_000)
        guard case .bridge(let bridge) = server.source else {
            Issue.record("expected a bridge")
            return
        }
        #expect(bridge.host == "::1")
        #expect(bridge.address == "[::1]:7465")
        #expect(bridge.key.revealHex() == ConfigurationFixture.key)
        #expect(bridge.tls == TLSFiles())
    }
}
