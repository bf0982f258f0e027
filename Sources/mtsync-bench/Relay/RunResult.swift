import Foundation
import MTSyncCore

/// One measured drain of the outbox: what went, how fast, at what memory.
struct RunResult: Sendable {
    var label: String
    var target: BenchOptions.Target
    var events: Int
    var batchSize: Int
    var concurrency: Int
    var elapsed: Duration
    var rounds: Int
    var messages: Int
    var bodyBytes: Int
    /// Inside the sink's `deliver`; the rest of `elapsed` is the relay's own side (claim, pack, mark).
    var deliverTime: Duration
    var peakMiB: Double?
    /// Who used the CPUs while the relay drained (nil off Linux).
    var load: MachineLoad.Usage?

    /// The target: the relay never the pipeline's bottleneck on this machine.
    static let targetFactsPerSecond = 100_000.0

    var factsPerSecond: Double { Double(events) / elapsed.fractionalSeconds }
    var messagesPerSecond: Double { Double(messages) / elapsed.fractionalSeconds }
    var mibPerSecond: Double { Double(bodyBytes) / 1_048_576 / elapsed.fractionalSeconds }
    var ratio: Double { factsPerSecond / Self.targetFactsPerSecond }

    var verdict: String {
        switch target {
        case .http: ratio >= 1 ? "ok (target >= 100k facts/s)" : "MISSED (target >= 100k facts/s)"
        case .sqs: "(moto, one Python process: not SQS's speed; the target is for HTTP)"
        }
    }

    static let header = [
        "run".padded(to: -44), "facts/s".padded(to: 10), "messages/s".padded(to: 11), "MiB/s".padded(to: 8), "ratio".padded(to: 7),
        "peak RSS".padded(to: 12),
    ].joined(separator: " ")

    var row: String {
        [
            label.padded(to: -44), String(format: "%.0f", factsPerSecond).padded(to: 10), String(format: "%.1f", messagesPerSecond).padded(to: 11),
            String(format: "%.1f", mibPerSecond).padded(to: 8), String(format: "%.2f", ratio).padded(to: 7),
            ((peakMiB.map { String(format: "%.1f", $0) } ?? "?") + " MiB").padded(to: 12), "  " + verdict,
        ].joined(separator: " ")
    }

    static func decimal(_ value: Double, _ places: Int) -> String {
        String(format: "%.\(places)f", value)
    }

    /// For scripts: one line of key=value pairs, no spaces inside values.
    var machineLine: String {
        var fields: [(String, String)] = [
            ("run", label.replacingOccurrences(of: " ", with: "_")), ("target", target.rawValue), ("events", String(events)),
            ("batch", String(batchSize)), ("concurrency", String(concurrency)), ("seconds", Self.decimal(elapsed.fractionalSeconds, 3)),
            ("rounds", String(rounds)), ("messages", String(messages)), ("bytes", String(bodyBytes)),
        ]
        fields.append(("facts_per_s", Self.decimal(factsPerSecond, 0)))
        fields.append(("messages_per_s", Self.decimal(messagesPerSecond, 1)))
        fields.append(("mib_per_s", Self.decimal(mibPerSecond, 1)))
        fields.append(("ratio", Self.decimal(ratio, 2)))
        fields.append(("deliver_s", Self.decimal(deliverTime.fractionalSeconds, 3)))
        fields.append(("relay_side_s", Self.decimal((elapsed - deliverTime).fractionalSeconds, 3)))
        fields.append(("rss_mib", peakMiB.map { Self.decimal($0, 1) } ?? "?"))
        if let load {
            fields.append(("cpu_bench", Self.decimal(load.bench, 2)))
            fields.append(("cpu_postgres", Self.decimal(load.postgres, 2)))
            fields.append(("cpu_other", Self.decimal(load.other, 2)))
            fields.append(("cpu_idle", Self.decimal(load.idle, 2)))
            fields.append(("cores", String(load.cores)))
        }
        return "RESULT " + fields.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
    }
}

extension String {
    /// Right-aligned in `width` columns, or left-aligned when `width` is negative (as printf's `%-N`; Foundation's
    /// `%@` on Linux ignores widths). Never truncates.
    func padded(to width: Int) -> String {
        let fill = String(repeating: " ", count: max(0, abs(width) - count))
        return width < 0 ? self + fill : fill + self
    }
}
