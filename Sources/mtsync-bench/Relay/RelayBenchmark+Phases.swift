import Foundation
import MTSyncCore
import MTSyncEngine
import MTSyncStore

/// `--phases`: where a round's time goes, after the measured run — PostgreSQL's plans for one claim and one mark,
/// then a drain with a stopwatch on every step (PhasedRelay), and whether claiming slows down as the drain goes on.
extension RelayBenchmark {
    /// Refills the outbox and drains it again with a stopwatch on every step of the round, after PostgreSQL's
    /// own plan and timing of one round's claim and mark.
    func profile(_ target: BenchOptions.Target, batchSize: Int) async throws {
        let events = target == .http ? options.events : options.sqsEvents
        _ = try await fillOutbox(events: events)
        // Standard queues and HTTP: the claim reads no logins (only FIFO groups per login need them).
        let plans = try await QueryPlanProbe(connection: control).explainRound(serverID: fill.serverIDs[0], limit: batchSize, withLogins: false)
        emit("EXPLAIN (ANALYZE, BUFFERS, WAL) of one round's claim, \(batchSize) events (rolled back):")
        // A custom plan prints the bound id array in full; the first columns say all there is to say.
        for line in plans.claim { emit("    " + line.prefix(150)) }
        emit("EXPLAIN (ANALYZE, BUFFERS, WAL) of marking those \(batchSize) events delivered (rolled back):")
        for line in plans.mark { emit("    " + line.prefix(150)) }

        let destination = try await Destination.make(target, options: options, httpClient: httpClient)
        do {
            try await profile(to: destination, target: target, batchSize: batchSize)
            await destination.stop()
        } catch {
            await destination.stop()
            throw error
        }
    }

    func profile(to destination: Destination, target: BenchOptions.Target, batchSize: Int) async throws {
        let phased = PhasedRelay(
            connection: relayConnection, sink: destination.sink, producer: producer, settings: RelaySettings(batchSize: batchSize),
            owner: "relay-bench/phases-\(UInt32.random(in: 0...UInt32.max))")
        log("==> phases: the round's steps timed one by one, batch \(batchSize)")
        let clock = ContinuousClock()
        let started = clock.now
        var total = PhasedRelay.Phases()
        for server in fill.serverIDs { total = total + (try await phased.drain(serverID: server, platform: .mt5)) }
        let elapsed = clock.now - started
        try await Outbox.releaseClaims(owner: phased.owner, on: relayConnection)
        emit(String(format: "phases, %@, batch %d: %d events in %d rounds, %d messages, %.2f s (%.0f facts/s)",
                     target.rawValue as NSString, batchSize, total.events, total.rounds, total.messages, elapsed.fractionalSeconds,
                     Double(total.events) / elapsed.fractionalSeconds))
        let steps: [(String, Duration)] = [
            ("claim (the server, SELECT … payload::text, decode)", total.claim), ("convert to IngestEvent", total.convert),
            ("pack (envelope strings, keys)", total.pack), ("deliver (sink)", total.deliver), ("mark delivered", total.mark),
        ]
        for (name, time) in steps {
            emit("    " + name.padded(to: -50) + String(format: " %9.2f ms/round %8.2f µs/event %5.1f%%",
                         time.fractionalSeconds * 1_000 / Double(max(total.rounds, 1)), time.fractionalSeconds * 1e6 / Double(max(total.events, 1)),
                         100 * time.fractionalSeconds / total.total.fractionalSeconds))
        }
        // Rounds of each server in turn: a tenth of each server's rounds is a tenth of the way through its drain.
        let perServer = total.claims.count / max(fill.serverIDs.count, 1)
        guard perServer >= 10 else { return }
        let tenths = (0..<10).map { tenth in
            var sum = Duration.zero
            var count = 0
            for server in fill.serverIDs.indices {
                let first: Int = server * perServer + tenth * perServer / 10
                let end: Int = server * perServer + (tenth + 1) * perServer / 10
                for claim in total.claims[first..<end] { sum += claim }
                count += end - first
            }
            return String(format: "%.1f", sum.fractionalSeconds * 1_000 / Double(max(count, 1)))
        }
        emit("    claim ms/round by tenth of each server's drain: " + tenths.joined(separator: " "))
    }
}
