import CoreMetrics
import MTSyncCore
import MTSyncEngine
import Prometheus

/// The Prometheus side of mtsync's metrics: a swift-metrics backend over swift-prometheus's registry that gives
/// every metric of the catalogue (`SyncMetric.all`) its `# HELP` line, and renders the text exposition /metrics
/// serves. Bootstrapped once, in `main`; everything else counts through swift-metrics.
public struct PrometheusExposition: Sendable {
    public let registry: PrometheusCollectorRegistry
    let catalogue: [String: SyncMetric]

    /// Page durations run from a few milliseconds (a small page on a quiet server) to minutes (a large page
    /// behind a slow database): seconds-based buckets over that range.
    static let durationBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .milliseconds(2_500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120),
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), catalogue: [SyncMetric] = SyncMetric.all) {
        self.registry = registry
        self.catalogue = Dictionary(catalogue.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        // Present from the first scrape, so a dashboard can tell which build runs before anything happened.
        registry.makeGauge(descriptor: Self.descriptor(SyncMetric.buildInfo.name, help: SyncMetric.buildInfo.help), labels: [("version", BuildInfo.version)]).set(Double(1))
    }

    /// The text exposition format, version 0.0.4.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public func render() -> [UInt8] {
        registry.emitToBuffer()
    }

    func help(_ label: String) -> String { catalogue[label]?.help ?? "" }

    /// The catalogue's names are whole Prometheus names already (unit included), so the name is the metric's name
    /// alone: the descriptor joins only its non-empty parts.
    static func descriptor(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    func descriptor(_ label: String) -> MetricNameDescriptor { Self.descriptor(label, help: help(label)) }
}

extension PrometheusExposition: MetricsFactory {
    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        // mtsync records gauges (aggregate: false) only; a histogram of values has no use here yet.
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: Self.durationBuckets)
    }

    // The series stay: a counter that disappeared between scrapes would read as a reset.
    public func destroyCounter(_ handler: any CounterHandler) {}
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    public func destroyRecorder(_ handler: any RecorderHandler) {}
    public func destroyMeter(_ handler: any MeterHandler) {}
    public func destroyTimer(_ handler: any TimerHandler) {}
}
