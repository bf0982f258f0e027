import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import MTSyncTestSupport
import Synchronization
import Testing

/// Issue 20: the bridge is written by someone else. Whatever it sends, a pull stores what it can, quarantines what it
/// cannot, moves the cursor only to a record it stored, and says what it did not believe; the same history served
/// honestly afterwards then completes the store — nothing lost, nothing doubled.
@Suite("The bridge door: a misbehaving bridge loses no history and passes unseen nowhere")
struct BridgeDoorTests {
    /// Misbehaviours whose pages are stored all the same: each must leave a trace in `status` (a bridge warning or
    /// quarantined records), and the cursor at a deal the dataset has.
    @Test("a pull from a bridge that lies about positions, counts or order, or sends bad lines, stores the good records, moves the cursor only to a stored one and says so; an honest pull afterwards completes the history", arguments: [
        Misbehaviour.futureNext, .hugeNextTicket, .nextBehindAfter, .moreWithoutNext, .lyingCount, .repeatedEnd, .recordsAfterEnd,
        .wrongOrder, .duplicateInPage, .outsideRange, .maximalTimeMsc, .maximalTimeOnly, .maximalServerTime, .invalidUTF8, .oversizeLine,
    ])
    func nothingLost(misbehaviour: Misbehaviour) async throws {
        var faults = SimulatorFaults()
        faults.misbehaviour = misbehaviour
        let fixture = try await SyncFixture(days: 2, dealsPerDay: 120, faults: faults)
        let dataset = fixture.dataset
        let tickets = Set(dataset.deals(fromMilliseconds: dataset.range.lowerBound, toMilliseconds: dataset.range.upperBound, after: nil, limit: 100_000).records.compactMap { $0.deal.flatMap(UInt64.init) })
        let last = try #require(dataset.deals(fromMilliseconds: dataset.range.lowerBound, toMilliseconds: dataset.range.upperBound, after: nil, limit: 100_000).records.last)

        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try fixture.sync(port: port, pageSize: 40)
            try await sync.register()
            _ = try await sync.pull()
            let cursor = try await fixture.connection.run { connection in try FactStore.cursor(serverID: sync.serverID, stream: .deals, on: connection) }
            // Invariant 7: the cursor is a stored deal's position, never past the history's last deal.
            #expect(tickets.contains(UInt64(cursor.ticket)), "the cursor \(cursor) is not a deal the bridge has")
            #expect(cursor.serverTimeMilliseconds <= Int64(last.timeMsc!)!)
            let status = try #require(try await ServerStatus.read(serverID: sync.serverID.rawValue, on: fixture.connection).first)
            let warned = status.streams.contains { $0.lastWarning != nil }
            #expect(warned || status.openQuarantine > 0, "nothing in status says the bridge misbehaved")
        }
        let honest = BridgeSimulator(dataset: dataset, key: SyncFixture.key)
        try await SimulatorHarness.run(honest) { port in
            let sync = try fixture.sync(port: port, pageSize: 40)
            _ = try await sync.pull()
            #expect(try await fixture.storedTruth() == dataset.groundTruth())
        }
    }

    @Test("a round is one connection and one handshake, however many pages and requests it makes")
    func oneSessionPerRound() async throws {
        let fixture = try await SyncFixture(days: 2, dealsPerDay: 150)
        try await SimulatorHarness.run(fixture.simulator) { port in
            let sync = try fixture.sync(port: port, pageSize: 25)
            try await sync.register()
            let report = try await sync.pull()
            #expect(report.pages > 10)
            #expect(fixture.simulator.statistics.requests > report.pages, "server.info, accounts, symbols, daily, changes and the pages")
            #expect(fixture.simulator.statistics.connections == 1)
            #expect(try await fixture.storedTruth() == fixture.dataset.groundTruth())
        }
    }

    @Test("a bridge that fails every request: the pull gives up within its budget, every attempt reported as it happens")
    func boundedRetries() async throws {
        let fixture = try await SyncFixture(days: 1, dealsPerDay: 50, faults: SimulatorFaults(unavailableRequests: 1_000))
        try await SimulatorHarness.run(fixture.simulator) { port in
            let attempts = Counter()
            let configuration = fixture.dataset.configuration
            let settings = ServerSettings(server: try ServerID(configuration.serverID), platform: .mt5, zone: ServerTimeZone("ny-close")!)
            let client = BridgeClient(
                endpoint: BridgeEndpoint(host: "127.0.0.1", port: port, key: SyncFixture.key),
                retryPolicy: .init(baseDelay: .milliseconds(5), maximumDelay: .milliseconds(20), maximumAttempts: 4), onRetry: { _ in attempts.add() })
            let sync = ServerSync(
                client: client, connection: fixture.connection, batcher: RecordBatcher(normalizer: Normalizer(settings: settings)),
                settings: ServerSyncSettings(startMilliseconds: fixture.dataset.range.lowerBound))
            try await sync.register()
            let error = await #expect(throws: BridgeClientError.self) { try await sync.pull() }
            #expect(error?.kind == .bridgeError && error?.reason.contains("gave up after 4 attempts") == true, "\(String(describing: error))")
            #expect(attempts.value == 4)
        }
    }
}

/// Counts from any task.
final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add() { count.withLock { $0 += 1 } }
}
