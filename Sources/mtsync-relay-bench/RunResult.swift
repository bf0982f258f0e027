import Foundation

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

    /// The issue's target: the relay never the pipeline's bottleneck on this machine.
    static let targetFactsPerSecond = 100_000.0

    var factsPerSecond: Double { Double(events) / elapsed.inSeconds }
    var messagesPerSecond: Double { Double(messages) / elapsed.inSeconds }
    var mibPerSecond: Double { Double(bodyBytes) / 1_048_576 / elapsed.inSeconds }
    var ratio: Double { factsPerSecond / Self.targetFactsPerSecond }

    var verdict: String {
        switch target {
        case .http: ratio >= 1 ? "ok (target >= 100k facts/s)" : "MISSED (target >= 100k facts/s)"
        case .sqs: "(moto's ceiling, not SQS's; the target is for HTTP)"
        }
    }

    static let header = String(
        format: "%-34@ %10@ %10@ %8@ %7@ %12@   %@", "run" as NSString, "facts/s" as NSString, "messages/s" as NSString,
        "MiB/s" as NSString, "ratio" as NSString, "peak RSS" as NSString, "" as NSString)

    var row: String {
        String(format: "%-34@ %10.0f %10.1f %8.1f %7.2f %8@ MiB   %@", label as NSString, factsPerSecond, messagesPerSecond, mibPerSecond,
               ratio, (peakMiB.map { String(format: "%.1f", $0) } ?? "?") as NSString, verdict as NSString)
    }

    /// For scripts: one line of key=value pairs, no spaces inside values.
    var machineLine: String {
        let fields: [(String, String)] = [
            ("run", label.replacingOccurrences(of: " ", with: "_")), ("target", target.rawValue), ("events", String(events)),
            ("batch", String(batchSize)), ("concurrency", String(concurrency)), ("seconds", String(format: "%.3f", elapsed.inSeconds)),
            ("rounds", String(rounds)), ("messages", String(messages)), ("bytes", String(bodyBytes)),
            ("facts_per_s", String(format: "%.0f", factsPerSecond)), ("messages_per_s", String(format: "%.1f", messagesPerSecond)),
            ("mib_per_s", String(format: "%.1f", mibPerSecond)), ("ratio", String(format: "%.2f", ratio)),
            ("deliver_s", String(format: "%.3f", deliverTime.inSeconds)),
            ("relay_side_s", String(format: "%.3f", (elapsed - deliverTime).inSeconds)),
            ("rss_mib", peakMiB.map { String(format: "%.1f", $0) } ?? "?"),
        ]
        return "RESULT " + fields.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
    }
}
