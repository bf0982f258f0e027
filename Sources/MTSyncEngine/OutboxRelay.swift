import Logging
import MTSyncCore
import MTSyncIngest
import MTSyncStore
import ServiceLifecycle

/// How the relay works through the outbox (`ingest.relay` in the configuration file decodes into it; its defaults
/// are the file's).
public struct RelaySettings: Sendable, Equatable {
    /// Events claimed per round (then packed into as many messages as they need).
    public var batchSize: Int
    /// After this many failed deliveries an event is parked and dead-lettered.
    public var maxAttempts: Int
    /// How long a claim lasts: longer than one round's delivery with all its retries inside the sink.
    public var claimFor: Duration
    /// How long the daemon's relay waits when there was nothing to send.
    public var idleInterval: Duration
    /// The longest a failed message waits before it is tried again (the backoff doubles up to it).
    public var maximumRetryDelay: Duration
    /// How long delivered events stay in the outbox (nil: for ever). The relay service prunes older ones every
    /// `pruneEvery`.
    public var keepDelivered: Duration?
    public var pruneEvery: Duration

    public init(
        batchSize: Int = 2_000, maxAttempts: Int = 20, claimFor: Duration = .seconds(120), idleInterval: Duration = .seconds(1),
        maximumRetryDelay: Duration = .seconds(300), keepDelivered: Duration? = .seconds(7 * 86_400), pruneEvery: Duration = .seconds(3_600)
    ) {
        self.batchSize = batchSize
        self.maxAttempts = maxAttempts
        self.claimFor = claimFor
        self.idleInterval = idleInterval
        self.maximumRetryDelay = maximumRetryDelay
        self.keepDelivered = keepDelivered
        self.pruneEvery = pruneEvery
    }
}

/// What the relay did.
public struct RelayReport: Sendable, Hashable, Codable {
    public var rounds = 0
    public var messages = 0
    public var delivered = 0
    public var retried = 0
    public var deadLettered = 0

    public init() {}

    static func + (lhs: RelayReport, rhs: RelayReport) -> RelayReport {
        var sum = lhs
        sum.rounds += rhs.rounds
        sum.messages += rhs.messages
        sum.delivered += rhs.delivered
        sum.retried += rhs.retried
        sum.deadLettered += rhs.deadLettered
        return sum
    }
}

/// Delivers the outbox to the ingest: claim a server, read its pending events in order, pack them into messages, hand them
/// to the sink, then mark the acknowledged ones delivered — only those, and only after the acknowledgement — and
/// schedule or dead-letter the rest. At least once: a crash between the send and the mark resends the same
/// messages (same keys) once the claim expires.
public struct OutboxRelay: Sendable {
    public let connection: PostgresConnection
    /// A second connection for each round's bookkeeping (marks, retries, dead letters), which then runs while the
    /// next round is claimed and sent: the marks are half of the database's work per event, and with one
    /// connection the database waits for the sink and the sink for the database. Nil: one connection, each round's
    /// bookkeeping before the next round.
    public let bookkeeping: PostgresConnection?
    public let sink: any IngestSink
    public let producer: IngestProducer
    public let settings: RelaySettings
    /// This relay's name in claims (instance id plus a random suffix: two relays of one instance never share).
    public let owner: String
    /// The key of the advisory lock this relay's claim connection holds while it lives, written into its claims:
    /// when the session ends (the process was killed), other relays take its servers at once (migration 0019).
    public let holderToken: Int64

    public init(
        connection: PostgresConnection, bookkeeping: PostgresConnection? = nil, sink: any IngestSink, producer: IngestProducer,
        settings: RelaySettings, owner: String, holderToken: Int64 = .random(in: .min ... .max)
    ) {
        self.connection = connection
        self.bookkeeping = bookkeeping
        self.sink = sink
        self.producer = producer
        self.settings = settings
        self.owner = owner
        self.holderToken = holderToken
    }

    /// Rounds for one server until nothing deliverable is left, or a round delivered nothing (the ingest is
    /// failing: the retries are scheduled, and the next drain tries again).
    ///
    /// Each round claims only events after the last one the previous round claimed: the claim then starts its
    /// index scan where the work is, instead of stepping over every event delivered before (whose index entries
    /// linger until VACUUM) — without this a drain of a large backlog slows down round by round. Events skipped
    /// meanwhile (waiting for a retry, or claimed one by one by an older mtsync's relay) are picked up by the next
    /// drain, which starts over.
    ///
    /// With a `bookkeeping` connection a round's marks run while the next round is claimed and sent (one round's
    /// bookkeeping at a time); the drain returns once every round's bookkeeping is done. The next round never
    /// touches the events of the one before (its claim starts after them), and an event whose mark failed goes
    /// again with the next drain: the order of the marks changes nothing the ingest sees.
    ///
    /// `maximumRounds`: stop after that many rounds even if more is left (the daemon's relay goes on to the next
    /// server, so one server's backlog — a backfill — does not hold up another's new deals); nil: until done.
    public func drain(serverID: String, platform: Platform, maximumRounds: Int? = nil) async throws -> RelayReport {
        var roundsLeft = maximumRounds ?? .max
        guard let bookkeeping else {
            var total = RelayReport()
            var after: Int64 = 0
            while !Task.isCancelled, roundsLeft > 0 {
                roundsLeft -= 1
                guard let sent = try await send(serverID: serverID, platform: platform, after: after) else { break }
                total = total + (try await keepBooks(of: sent, on: connection))
                if sent.delivered == 0 { break }
                after = sent.lastClaimed
            }
            return total
        }
        return try await withThrowingTaskGroup(of: RelayReport.self) { books in
            var total = RelayReport()
            var after: Int64 = 0
            var booksOpen = false
            while !Task.isCancelled, roundsLeft > 0 {
                roundsLeft -= 1
                let sent = try await send(serverID: serverID, platform: platform, after: after)
                if booksOpen, let report = try await books.next() { total = total + report }
                booksOpen = false
                guard let sent else { break }
                books.addTask { try await self.keepBooks(of: sent, on: bookkeeping) }
                booksOpen = true
                if sent.delivered == 0 { break }
                after = sent.lastClaimed
            }
            while let report = try await books.next() { total = total + report }
            return total
        }
    }

    /// One claim, one delivery, one bookkeeping.
    public func round(serverID: String, platform: Platform) async throws -> RelayReport {
        guard let sent = try await send(serverID: serverID, platform: platform, after: 0) else { return RelayReport() }
        return try await keepBooks(of: sent, on: bookkeeping ?? connection)
    }

    /// A round's messages and what the ingest answered to each, before the bookkeeping.
    struct SentRound: Sendable {
        var messages: [IngestMessage]
        var outcomes: [DeliveryOutcome]
        /// Deliveries tried before this round, by event.
        var attempts: [Int64: Int]
        /// Messages sent, the refused ones sent again one event at a time included.
        var messageCount: Int
        var lastClaimed: Int64

        var delivered: Int { zip(messages, outcomes).reduce(0) { $0 + ($1.1 == .delivered ? $1.0.eventIDs.count : 0) } }
    }

    /// Claims the events after `after`, packs and delivers them: nil when there was nothing to claim.
    func send(serverID: String, platform: Platform, after: Int64) async throws -> SentRound? {
        // At a drain's first round: the claim connection holds the lock that keeps this relay's claims alive (again,
        // if the connection was made anew since).
        if after == 0 { try await Outbox.holdClaims(holderToken: holderToken, on: connection) }
        let claimed = try await Outbox.claim(
            serverID: serverID, owner: owner, holderToken: holderToken, limit: settings.batchSize, claimFor: settings.claimFor, after: after,
            withLogins: sink.grouping == .serverLogin, on: connection)
        guard let lastClaimed = claimed.last?.eventID else { return nil }
        let events = claimed.map(\.event)
        let attempts = Dictionary(uniqueKeysWithValues: claimed.map { ($0.eventID, $0.attempts) })
        let packer = MessagePacker(maximumBytes: sink.maximumMessageBytes, grouping: sink.grouping, producer: producer)
        var messages = packer.pack(events, server: serverID, platform: platform)
        var messageCount = messages.count
        var outcomes = await sink.deliver(messages)
        guard outcomes.count == messages.count else {
            // A sink bug; nothing is marked, the claims expire and the events go again.
            throw RelayError(message: "the ingest sink answered \(outcomes.count) outcomes for \(messages.count) messages")
        }
        // A refused message of several events: find the event at fault by sending each alone, so one bad fact
        // does not dead-letter the hundreds packed with it.
        let refusedTogether = zip(messages, outcomes).filter { message, outcome in
            if case .rejected = outcome { return message.eventIDs.count > 1 }
            return false
        }.map(\.0)
        if !refusedTogether.isEmpty {
            let single = MessagePacker(maximumBytes: sink.maximumMessageBytes, maximumEvents: 1, grouping: sink.grouping, producer: producer)
            let byID = Dictionary(uniqueKeysWithValues: events.map { ($0.eventID, $0) })
            let alone = single.pack(refusedTogether.flatMap { $0.eventIDs.compactMap { byID[$0] } }, server: serverID, platform: platform)
            let aloneOutcomes = await sink.deliver(alone)
            guard aloneOutcomes.count == alone.count else {
                throw RelayError(message: "the ingest sink answered \(aloneOutcomes.count) outcomes for \(alone.count) messages")
            }
            let refusedKeys = Set(refusedTogether.map(\.key))
            let kept = zip(messages, outcomes).filter { !refusedKeys.contains($0.0.key) }
            messages = kept.map(\.0) + alone
            outcomes = kept.map(\.1) + aloneOutcomes
            messageCount += alone.count
        }
        return SentRound(messages: messages, outcomes: outcomes, attempts: attempts, messageCount: messageCount, lastClaimed: lastClaimed)
    }

    /// Marks what the ingest acknowledged (first, and alone), then schedules or dead-letters the rest.
    func keepBooks(of sent: SentRound, on connection: PostgresConnection) async throws -> RelayReport {
        var report = RelayReport()
        report.rounds = 1
        report.messages = sent.messageCount
        let delivered = zip(sent.messages, sent.outcomes).filter { $0.1 == .delivered }.flatMap(\.0.eventIDs)
        try await Outbox.markDelivered(delivered, on: connection)
        report.delivered = delivered.count

        for (message, outcome) in zip(sent.messages, sent.outcomes) {
            switch outcome {
            case .delivered:
                continue
            case .retry(let reason, let after):
                let tries = message.eventIDs.map { sent.attempts[$0] ?? 0 }.max() ?? 0
                let delay = after ?? backoff(afterAttempts: tries + 1)
                report.deadLettered += try await Outbox.scheduleRetry(
                    message.eventIDs, reason: reason, delay: delay, maxAttempts: settings.maxAttempts, on: connection)
                report.retried += message.eventIDs.count
            case .rejected(let reason, let response):
                try await Outbox.deadLetter(message.eventIDs, reason: reason, response: response, on: connection)
                report.deadLettered += message.eventIDs.count
            }
        }
        return report
    }

    /// Equal jitter over an exponential ceiling: 1 s, 2 s, 4 s … up to `maximumRetryDelay`, each wait between half
    /// the ceiling and the ceiling.
    func backoff(afterAttempts attempts: Int) -> Duration {
        ExponentialBackoff(first: .seconds(1), maximum: settings.maximumRetryDelay, maximumDoublings: 19, jitter: .equal).delay(afterFailure: attempts)
    }
}

public struct RelayError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// The relay inside `mtsync run`: a round over every server with pending events, again at once while there is
/// work, every `idleInterval` when there is none; a failing round backs off. A relay claims each server it sends
/// (`relay_claims`, renewed every round; not the sync's lease), so several instances never send the same server's
/// events at the same time and every instance may run it: the servers spread over the instances that have work.
public struct RelayService: Service {
    /// Rounds per server before the relay turns to the next (then back at once while there is work): a server's
    /// backlog of a backfill waits a few rounds, not another server's new deals.
    static let roundsPerServer = 5
    public let relay: OutboxRelay
    /// Each server's platform, for the envelope.
    public let platforms: [String: Platform]
    /// The `sink` label of the relay metrics: `sqs` or `http`.
    public let sinkName: String
    public let logger: Logger

    public init(relay: OutboxRelay, platforms: [String: Platform], sinkName: String, logger: Logger) {
        self.relay = relay
        self.platforms = platforms
        self.sinkName = sinkName
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var failures = 0
            // The first pass a minute after start, then every pruneEvery; see `prune`.
            var nextPrune = ContinuousClock.now.advanced(by: .seconds(60))
            while !Task.isCancelled {
                var wait = relay.settings.idleInterval
                do {
                    var worked = false
                    for server in try await Outbox.serversWithPendingEvents(on: relay.connection) {
                        guard let platform = platforms[server] else { continue }
                        let report = try await relay.drain(serverID: server, platform: platform, maximumRounds: Self.roundsPerServer)
                        SyncMetric.relayDelivered.increment(by: report.delivered, sinkName)
                        SyncMetric.relayRetries.increment(by: report.retried, sinkName)
                        SyncMetric.relayDeadLetters.increment(by: report.deadLettered, sinkName)
                        if report.messages > 0 {
                            logger.info("relayed", metadata: [
                                "server": "\(server)", "messages": "\(report.messages)", "delivered": "\(report.delivered)",
                                "retried": "\(report.retried)", "dead_lettered": "\(report.deadLettered)",
                            ])
                        }
                        worked = worked || report.delivered > 0
                    }
                    failures = 0
                    if worked { wait = .zero }
                    if let keep = relay.settings.keepDelivered, ContinuousClock.now >= nextPrune,
                       !worked || ContinuousClock.now >= nextPrune.advanced(by: relay.settings.pruneEvery) {
                        do {
                            nextPrune = try await prune(olderThan: keep)
                        } catch {
                            // Retention is housekeeping: a failing pass must not slow delivery with the relay's backoff.
                            if Task.isCancelled { break }
                            nextPrune = ContinuousClock.now.advanced(by: .seconds(300))
                            logger.warning("pruning delivered events failed; trying again in 5 minutes", metadata: ["error": "\(error)"])
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    failures += 1
                    wait = ExponentialBackoff(first: relay.settings.idleInterval * 2, maximum: .seconds(60), maximumDoublings: 7).ceiling(afterFailure: failures)
                    logger.error("relay failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(wait)"])
                }
                if wait > .zero {
                    // Idle: woken by the next page that writes events (FactStore's NOTIFY), or after `wait`.
                    do {
                        _ = try await relay.connection.waitForNotification(on: Outbox.notificationChannel, timeout: wait)
                    } catch {
                        // The database is away: the next round finds out and backs off; wait as before meanwhile.
                        do { try await Task.sleep(for: wait) } catch { break }
                    }
                }
            }
            try? await Outbox.releaseClaims(owner: relay.owner, on: relay.connection)
            logger.info("relay stopped")
        }
    }

    /// One pass of the retention: runs when the relay is idle (or once a pass is a whole period overdue, for a relay
    /// that is never idle), at most a million rows at a time so delivery never waits long behind it; a pass that did
    /// not finish (an outbox that grew for months before retention) is followed by the next a minute later.
    /// - Returns: when the next pass is due.
    private func prune(olderThan keep: Duration) async throws -> ContinuousClock.Instant {
        let pass = try await Outbox.pruneDelivered(olderThan: keep, maximumBatches: 100, on: relay.connection)
        SyncMetric.outboxPruned.increment(by: pass.deleted)
        if pass.deleted > 0 { logger.info("pruned delivered events", metadata: ["events": "\(pass.deleted)", "older_than": "\(keep)", "finished": "\(pass.finished)"]) }
        return ContinuousClock.now.advanced(by: pass.finished ? relay.settings.pruneEvery : .seconds(60))
    }
}
