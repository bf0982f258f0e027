import CoreMetrics
import Foundation
import MTSyncEngine
import MTSyncApp
import Testing

@Suite("The metrics: one catalogue, Prometheus names, bounded labels, documented")
struct PrometheusExpositionTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("every metric follows the naming conventions: mtsync_ prefix, _total on counters, base units, no login label", arguments: SyncMetric.all)
    func naming(metric: SyncMetric) {
        #expect(metric.name.hasPrefix("mtsync_"))
        #expect(metric.name.allSatisfy { $0.isLowercase || $0 == "_" || $0.isNumber })
        #expect((metric.kind == .counter) == metric.name.hasSuffix("_total"))
        if metric.kind == .histogram { #expect(metric.name.hasSuffix("_seconds")) }
        #expect(!metric.name.contains("milliseconds") && !metric.name.contains("_ms"))
        #expect(!metric.labels.contains { $0.contains("login") || $0 == "customer" || $0 == "ticket" || $0 == "deal" })
        #expect(!metric.help.isEmpty)
    }

    @Test("docs/operations.md documents every metric by its exact name")
    func documented() throws {
        let guide = try String(contentsOf: Self.repositoryRoot.appending(path: "docs/operations.md"), encoding: .utf8)
        for metric in SyncMetric.all {
            #expect(guide.contains("`\(metric.name)`"), "docs/operations.md does not mention `\(metric.name)`")
        }
    }

    @Test("the exposition has each metric's HELP and TYPE, its labels and values")
    func exposition() {
        let exposition = PrometheusExposition()
        Counter(label: SyncMetric.factsSynced.name, dimensions: [("server", "mt5-live"), ("stream", "deals"), ("kind", "inserted")], factory: exposition).increment(by: 42)
        Gauge(label: SyncMetric.cursorLag.name, dimensions: [("server", "mt5-live"), ("stream", "deals")], factory: exposition).record(12.5)
        Timer(label: SyncMetric.pageDuration.name, dimensions: [("server", "mt5-live"), ("stream", "deals"), ("phase", "store")], factory: exposition)
            .recordNanoseconds(30_000_000)
        let text = String(decoding: exposition.render(), as: UTF8.self)
        #expect(text.contains("# HELP mtsync_facts_synced_total \(SyncMetric.factsSynced.help)\n"))
        #expect(text.contains("# TYPE mtsync_facts_synced_total counter\n"))
        #expect(text.contains(#"mtsync_facts_synced_total{server="mt5-live",stream="deals",kind="inserted"} 42"#))
        #expect(text.contains(#"mtsync_cursor_lag_seconds{server="mt5-live",stream="deals"} 12.5"#))
        #expect(text.contains("# TYPE mtsync_page_duration_seconds histogram\n"))
        #expect(text.contains(#"mtsync_page_duration_seconds_bucket{server="mt5-live",stream="deals",phase="store",le="0.05"} 1"#), "\(text)")
        #expect(text.contains(#"mtsync_build_info{version=""#))
    }
}
