import AsyncHTTPClient
import Foundation
import MTSyncCore
import MTSyncEngine
import MTSyncIngest
import MTSyncStore
import NIOCore

/// `mtsync-bench relay`: the relay's throughput (issue 6, "Speed") — the real OutboxRelay draining a filled outbox
/// into a loopback HTTP sink and into moto SQS, in facts/s with peak RSS. A benchmark, not a test: it fails only
/// when something does not work (an event not delivered, a sink that lost count), never for a missed target.
/// scripts/bench-relay runs it against a throwaway cluster, one process per run.
struct RelayBenchmark {
    let options: BenchOptions
    let control: PostgresConnection
    let relayConnection: PostgresConnection
    /// The relay's second connection: each round's marks while the next round is claimed and sent.
    let bookkeepingConnection: PostgresConnection
    let httpClient: HTTPClient
    let fill: OutboxFill
    /// Every envelope names its producer; a fixed instance keeps the envelope's size the same run to run.
    let producer = IngestProducer(instance: "relay-bench")

    static func main(arguments: [String]) async {
        let options: BenchOptions
        do {
            options = try BenchOptions.parse(arguments)
        } catch {
            FileHandle.standardError.write(Data("mtsync-bench relay: \(error.description)\n".utf8))
            exit(64)
        }
        var httpConfiguration = HTTPClient.Configuration()
        // As the CLI's IngestSinks: one connection per request in flight, so no request waits for a connection.
        httpConfiguration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: options.concurrency)
        httpConfiguration.timeout = .init(connect: .seconds(10))
        httpConfiguration.redirectConfiguration = .disallow
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
        var failed = false
        do {
            let database = PostgresConfiguration(connectionString: options.databaseURL, applicationName: "mtsync-relay-bench")
            // The relay gets a connection of its own, as in `mtsync relay`: the fill and the checks never queue
            // in front of its claims.
            let benchmark = RelayBenchmark(
                options: options, control: try await PostgresConnection.connect(database),
                relayConnection: try await PostgresConnection.connect(database),
                bookkeepingConnection: try await PostgresConnection.connect(database), httpClient: httpClient,
                fill: OutboxFill(servers: options.servers, logins: options.logins))
            try await benchmark.run()
        } catch {
            FileHandle.standardError.write(Data("mtsync-bench relay: \(error)\n".utf8))
            failed = true
        }
        try? await httpClient.shutdown()
        if failed { exit(1) }
    }

    func run() async throws {
        try await checkSchema()
        if options.fillOnly {
            _ = try await fillOutbox(events: options.events)
            return
        }
        var results: [RunResult] = []
        for target in options.targets {
            for batchSize in options.batchSizes {
                let result = try await measure(target, batchSize: batchSize)
                emit(result.machineLine)
                results.append(result)
                if options.phases { try await profile(target, batchSize: batchSize) }
            }
        }
        emit("")
        emit(RunResult.header)
        for result in results {
            emit(result.row)
            // The relay is sequential (claim, pack, deliver, mark): time outside `deliver` is the relay's own side.
            emit(String(format: "    %.0f%% of the time inside the sink's deliver", 100 * result.deliverTime.fractionalSeconds / result.elapsed.fractionalSeconds)
                + (result.load.map { "; CPU while relaying, in cores: " + $0.summary } ?? ""))
        }
    }

    /// The relay reads columns of migrations 0005 (claims) and 0006 (backfill origin) and claims servers in
    /// 0017's table; say so instead of failing on a missing column.
    func checkSchema() async throws {
        let present = try await control.query("""
            SELECT count(*) = 2 AND to_regclass('dead_letters') IS NOT NULL AND to_regclass('relay_claims') IS NOT NULL
            FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = 'outbox' AND column_name IN ('claimed_until', 'backfill_job_id')
            """, name: "check the relay's schema")[0].decode(Bool.self, 0)
        guard present else {
            throw BenchFailure(description: "the database lacks the relay's schema (outbox claims, backfill origin, dead_letters, relay_claims): run `mtsync migrate --database-url URL` first")
        }
    }

    // MARK: - One run

    /// Fills the outbox, then times the real relay draining it, server after server, to `target`.
    func measure(_ target: BenchOptions.Target, batchSize: Int) async throws -> RunResult {
        let events = target == .http ? options.events : options.sqsEvents
        let filled = try await fillOutbox(events: events)
        let destination = try await Destination.make(target, options: options, httpClient: httpClient)
        do {
            let result = try await drain(filled, to: destination, target: target, batchSize: batchSize)
            await destination.stop()
            return result
        } catch {
            await destination.stop()
            throw error
        }
    }

    func drain(_ filled: FillReport, to destination: Destination, target: BenchOptions.Target, batchSize: Int) async throws -> RunResult {
        let sink = MeteredSink(wrapped: destination.sink)
        let relay = OutboxRelay(
            connection: relayConnection, bookkeeping: bookkeepingConnection, sink: sink, producer: producer, settings: RelaySettings(batchSize: batchSize),
            owner: "relay-bench/relay-\(UInt32.random(in: 0...UInt32.max))")
        let label = options.label ?? defaultLabel(target, batchSize: batchSize)
        log("==> \(label): relaying \(filled.events) events with OutboxRelay.drain, batch \(batchSize)\(target == .http ? ", \(options.concurrency) requests in flight" : "")")

        let machine = MachineLoad(backendPID: await relayConnection.backendPID)
        PeakMemory.resetPeak()
        let before = machine.snapshot()
        let clock = ContinuousClock()
        let started = clock.now
        var rounds = 0, messages = 0, delivered = 0, retried = 0, deadLettered = 0
        for server in fill.serverIDs {
            let report = try await relay.drain(serverID: server, platform: .mt5)
            rounds += report.rounds
            messages += report.messages
            delivered += report.delivered
            retried += report.retried
            deadLettered += report.deadLettered
        }
        let elapsed = clock.now - started
        let peak = PeakMemory.peakMiB()
        let after = machine.snapshot()
        // As `mtsync relay` does when it stops: the next run (another owner) takes the servers at once.
        try await Outbox.releaseClaims(owner: relay.owner, on: relayConnection)

        // A fast run that lost events measures nothing: the destination received every message the relay counted,
        // and every event was delivered by this drain, none retried or parked.
        let received = try await destination.receivedMessages()
        guard received == messages else {
            throw BenchFailure(description: "\(label): the relay sent \(messages) messages but the destination counted \(received)")
        }
        let pending = try await control.query(
            "SELECT count(*) FILTER (WHERE delivered_at IS NULL), count(*) FILTER (WHERE parked_at IS NOT NULL) FROM outbox",
            name: "count undelivered events")[0]
        let undelivered = try pending.decode(Int.self, 0), parked = try pending.decode(Int.self, 1)
        guard undelivered == 0, parked == 0, retried == 0, deadLettered == 0, delivered == filled.events else {
            throw BenchFailure(description: "\(label): \(delivered) of \(filled.events) events delivered, \(retried) to retry, \(deadLettered) dead-lettered, \(undelivered) left undelivered (\(parked) parked)")
        }
        return RunResult(
            label: label, target: target, events: delivered, batchSize: batchSize, concurrency: options.concurrency, elapsed: elapsed,
            rounds: rounds, messages: messages, bodyBytes: sink.meter.bytes.load(ordering: .relaxed), deliverTime: sink.meter.deliverTime,
            peakMiB: peak, load: before.flatMap { before in after.map { machine.usage(from: before, to: $0) } })
    }

    func defaultLabel(_ target: BenchOptions.Target, batchSize: Int) -> String {
        switch target {
        case .http: "HTTP sink, batch \(batchSize), \(options.concurrency) in flight\(options.verifySignatures ? ", verified" : "")"
        case .sqs: "moto SQS, batch \(batchSize)"
        }
    }

    func fillOutbox(events: Int) async throws -> FillReport {
        log("==> filling the outbox with \(events) fact events over \(options.servers) server(s) and \(options.logins) logins each")
        let report = try await fill.fill(events: events, on: control)
        log(String(
            format: "    %d events (payloads built by the relay from the stored facts), outbox + facts %.0f MiB; filled in %.1f s, VACUUM ANALYZE%@ in %.1f s",
            report.events, Double(report.tableBytes) / 1_048_576, report.fillTime.fractionalSeconds,
            (report.checkpointed ? " + CHECKPOINT" : " (CHECKPOINT not allowed)") as NSString, report.settleTime.fractionalSeconds))
        return report
    }

    /// Results on stdout, a line at a time (unbuffered: they interleave with the progress on stderr as they happen).
    func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// Progress on stderr.
    func log(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
}
