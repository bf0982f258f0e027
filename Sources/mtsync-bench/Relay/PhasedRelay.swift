import MTSyncCore
import MTSyncEngine
import MTSyncIngest
import MTSyncStore

/// The relay's happy path (OutboxRelay.round when every message is delivered), step for step through the same
/// public calls, with a stopwatch on each step: where a round's time goes. It is a copy so the relay itself stays
/// untouched; when OutboxRelay.round changes, this must follow (it is a profile, not the measurement — the
/// measured runs drive the real OutboxRelay).
struct PhasedRelay: Sendable {
    let connection: PostgresConnection
    let sink: any IngestSink
    let producer: IngestProducer
    let settings: RelaySettings
    let owner: String

    /// Time per step, summed over rounds.
    struct Phases: Sendable {
        var rounds = 0
        var events = 0
        var messages = 0
        /// `Outbox.claim`: the claiming UPDATE … RETURNING payload::text, its transfer and decoding.
        var claim = Duration.zero
        /// The claimed events and the attempts dictionary, as the round takes them.
        var convert = Duration.zero
        /// `MessagePacker.pack`: the envelope strings and message keys.
        var pack = Duration.zero
        var deliver = Duration.zero
        /// `Outbox.markDelivered` of the round's events.
        var mark = Duration.zero
        /// Each round's claim, in order: whether claiming gets slower as delivered history piles up in the table
        /// and its indexes (until VACUUM removes it).
        var claims: [Duration] = []

        var total: Duration { claim + convert + pack + deliver + mark }

        static func + (lhs: Phases, rhs: Phases) -> Phases {
            Phases(rounds: lhs.rounds + rhs.rounds, events: lhs.events + rhs.events, messages: lhs.messages + rhs.messages,
                   claim: lhs.claim + rhs.claim, convert: lhs.convert + rhs.convert, pack: lhs.pack + rhs.pack,
                   deliver: lhs.deliver + rhs.deliver, mark: lhs.mark + rhs.mark, claims: lhs.claims + rhs.claims)
        }
    }

    struct Undelivered: Error, CustomStringConvertible {
        let description: String
    }

    func drain(serverID: String, platform: Platform) async throws -> Phases {
        var total = Phases()
        var after: Int64 = 0
        while !Task.isCancelled {
            let (round, last) = try await self.round(serverID: serverID, platform: platform, after: after)
            if round.events == 0 { break }
            total = total + round
            after = last ?? after
        }
        return total
    }

    /// As `OutboxRelay`'s round: claims only events after the previous round's last one.
    func round(serverID: String, platform: Platform, after: Int64) async throws -> (Phases, Int64?) {
        let clock = ContinuousClock()
        var phases = Phases()
        var lapStarted = clock.now
        func lap() -> Duration {
            let now = clock.now
            defer { lapStarted = now }
            return now - lapStarted
        }
        let claimed = try await Outbox.claim(
            serverID: serverID, owner: owner, limit: settings.batchSize, claimFor: settings.claimFor, after: after,
            withLogins: sink.grouping == .serverLogin, on: connection)
        phases.claim = lap()
        guard !claimed.isEmpty else { return (phases, nil) }
        phases.claims = [phases.claim]
        let events = claimed.map(\.event)
        // Built as the round builds it (for retries' backoff), so its cost is in the profile; unused on the happy path.
        let attempts = Dictionary(uniqueKeysWithValues: claimed.map { ($0.eventID, $0.attempts) })
        withExtendedLifetime(attempts) {}
        phases.convert = lap()
        let packer = MessagePacker(maximumBytes: sink.maximumMessageBytes, grouping: sink.grouping, producer: producer)
        let messages = packer.pack(events, server: serverID, platform: platform)
        phases.pack = lap()
        let outcomes = await sink.deliver(messages)
        phases.deliver = lap()
        guard outcomes.allSatisfy({ $0 == .delivered }) else {
            throw Undelivered(description: "the sink did not take every message (\(outcomes.first { $0 != .delivered }!)); the phase profile only covers the happy path")
        }
        let delivered = zip(messages, outcomes).filter { $0.1 == .delivered }.flatMap(\.0.eventIDs)
        try await Outbox.markDelivered(delivered, on: connection)
        phases.mark = lap()
        phases.rounds = 1
        phases.events = delivered.count
        phases.messages = messages.count
        return (phases, claimed.last?.eventID)
    }
}
