/// The command line of `mtsync-bench relay`. Parsed by hand: the target's dependencies are the relay's own stack
/// (store, engine, ingest transports, NIO), so the figures are not blurred by anything else linked in.
struct BenchOptions: Sendable {
    enum Target: String, Sendable, CaseIterable {
        case http, sqs
    }

    var databaseURL = ""
    /// Events in the outbox for the HTTP run.
    var events = 1_000_000
    /// Events for the SQS run: moto is one Python process, so a smaller fill says the same in less time.
    var sqsEvents = 200_000
    var sqsEndpoint: String?
    var batchSizes = [2_000]
    /// Requests in flight per `deliver` (`HTTPIngestConfiguration.maximumConcurrentRequests`, default 8) and
    /// the HTTP client's connections per host.
    var concurrency = 8
    var only: Target?
    /// Let the sink check every `X-Mtsync-Signature`: measures what a real receiver costs, on the same 2 cores.
    var verifySignatures = false
    /// Also time claim, pack, deliver and mark separately with a copy of the relay's happy path.
    var phases = false
    /// Servers the events are spread over (each drained in turn, as `mtsync relay --once` does).
    var servers = 2
    var logins = 500
    /// Fill the outbox and stop: for replaying the relay's SQL by hand (psql, EXPLAIN) on realistic rows.
    var fillOnly = false
    /// A name for the run in the results (scripts/bench-relay sets it, one run per process).
    var label: String?

    static let usage = """
        usage: mtsync-bench relay --database-url URL [--events N] [--batch-size N[,N…]] [--concurrency N]
                                  [--sqs-endpoint URL] [--sqs-events N] [--only http|sqs] [--verify-signatures]
                                  [--phases] [--servers N] [--logins N] [--label TEXT] [--fill-only]

        Fills the outbox of a migrated, throwaway database with realistic fact events (it TRUNCATEs the outbox, and
        refuses when the outbox holds events of servers it did not make), then drains it with the real OutboxRelay:
        to a loopback HTTP sink in this process, and to moto SQS when --sqs-endpoint is given. Prints facts/s,
        messages/s, MiB/s and peak RSS per run, and one `RESULT key=value …` line per run for scripts. With
        --fill-only it fills the outbox with --events events and stops.
        """

    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ arguments: [String]) throws(UsageError) -> BenchOptions {
        var options = BenchOptions()
        var rest = arguments[...]
        func value(_ name: String) throws(UsageError) -> String {
            guard let next = rest.popFirst() else { throw UsageError(description: "\(name) needs a value") }
            return next
        }
        func count(_ name: String, minimum: Int = 1) throws(UsageError) -> Int {
            let text = try value(name)
            guard let number = Int(text.replacingOccurrences(of: "_", with: "")), number >= minimum else {
                throw UsageError(description: "\(name) must be a whole number >= \(minimum), not \(text)")
            }
            return number
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--database-url": options.databaseURL = try value(argument)
            case "--events": options.events = try count(argument)
            case "--sqs-events": options.sqsEvents = try count(argument)
            case "--sqs-endpoint": options.sqsEndpoint = try value(argument)
            case "--concurrency": options.concurrency = try count(argument)
            case "--servers": options.servers = try count(argument)
            case "--logins": options.logins = try count(argument)
            case "--label": options.label = try value(argument)
            case "--verify-signatures": options.verifySignatures = true
            case "--phases": options.phases = true
            case "--fill-only": options.fillOnly = true
            case "--batch-size":
                let text = try value(argument)
                let sizes = text.split(separator: ",").compactMap { Int($0) }
                guard !sizes.isEmpty, sizes.count == text.split(separator: ",").count, sizes.allSatisfy({ $0 >= 1 }) else {
                    throw UsageError(description: "--batch-size takes whole numbers >= 1 separated by commas, not \(text)")
                }
                options.batchSizes = sizes
            case "--only":
                let text = try value(argument)
                guard let target = Target(rawValue: text) else { throw UsageError(description: "--only takes http or sqs, not \(text)") }
                options.only = target
            case "--help", "-h":
                throw UsageError(description: usage)
            default:
                throw UsageError(description: "unknown argument \(argument)\n\(usage)")
            }
        }
        guard !options.databaseURL.isEmpty else { throw UsageError(description: "--database-url is required\n\(usage)") }
        if options.only == .sqs, options.sqsEndpoint == nil {
            throw UsageError(description: "--only sqs needs --sqs-endpoint (a moto_server URL)")
        }
        return options
    }

    /// The runs asked for, in order.
    var targets: [Target] {
        if let only { return [only] }
        return sqsEndpoint == nil ? [.http] : [.http, .sqs]
    }
}
