import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncTestSupport
import Testing

/// The reconnecting client against the simulator's faults, over real loopback TCP.
@Suite("BridgeClient: retries, back-pressure, cancellation")
struct BridgeClientTests {
    typealias Harness = ClientSimulatorTests

    static func client(_ port: Int, key: BridgeKey = Harness.key, policy: BridgeClient.RetryPolicy = SimulatorHarness.fastRetries, log: RetryLog = RetryLog()) -> BridgeClient {
        BridgeClient(endpoint: Harness.endpoint(port, key: key), retryPolicy: policy, onRetry: { log.record($0) })
    }

    /// Every deal of the test dataset through `BridgeClient.deals`, with the pages' positions.
    static func allDeals(_ client: BridgeClient, pageSize: Int) async throws -> (tickets: [UInt64], positions: [DealPosition]) {
        var tickets: [UInt64] = []
        var positions: [DealPosition] = []
        let range = Harness.dataset.range
        for try await page in client.deals(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, pageSize: pageSize) {
            tickets += page.records.map { UInt64($0.deal!)! }
            positions.append(try #require(page.position))
            let last = try #require(page.records.last)
            #expect(page.position == DealPosition(timeMsc: Int64(last.timeMsc!)!, deal: UInt64(last.deal!)!))
        }
        return (tickets, positions)
    }

    @Test("dropped connections mid-page: every deal exactly once, in order, after reconnecting")
    func survivesDrops() async throws {
        let simulator = BridgeSimulator(dataset: Harness.dataset, key: Harness.key, faults: SimulatorFaults(dropConnectionAfterRecords: 30, dropConnectionTimes: 3))
        let log = RetryLog()
        let tickets = try await SimulatorHarness.run(simulator) { port in
            try await Self.allDeals(Self.client(port, log: log), pageSize: 50).tickets
        }
        #expect(tickets == Harness.expectedTickets)
        #expect(simulator.statistics.droppedConnections == 3, "the fault fired")
        // One retry per drop, each reported as the bridge closing the connection (`connection_closed`), not as a
        // timeout; a request that really timed out on a loaded machine (CI once saw one more here, the test taking
        // 2 minutes) would add a retry of its own, reported as the timeout it is.
        #expect(log.transports.filter { $0 == .connectionClosed }.count == 3, "each drop said as a closed connection: \(log.transports)")
        #expect(log.transports.allSatisfy { $0 == .connectionClosed || $0 == .timeout })
    }

    @Test("MetaTrader unavailable (a retryable bridge error): retried with backoff until it answers, nothing lost or doubled")
    func survivesUnavailable() async throws {
        let simulator = BridgeSimulator(dataset: Harness.dataset, key: Harness.key, faults: SimulatorFaults(unavailableRequests: 4))
        let log = RetryLog()
        let tickets = try await SimulatorHarness.run(simulator) { port in
            try await Self.allDeals(Self.client(port, log: log), pageSize: 100).tickets
        }
        #expect(tickets == Harness.expectedTickets)
        #expect(log.count == 4 && log.codes.allSatisfy { $0 == "mt_unavailable" })
    }

    @Test("MT4 closed trades through BridgeClient survive drops and unavailability: every record once, in order")
    func closedTradesSurviveFaults() async throws {
        let dataset = SimulatorHarness.mt4Dataset
        let simulator = BridgeSimulator(dataset: dataset, key: Harness.key, faults: SimulatorFaults(dropConnectionAfterRecords: 25, unavailableRequests: 2, dropConnectionTimes: 2))
        let log = RetryLog()
        let (orders, positions) = try await SimulatorHarness.run(simulator) { port in
            var orders: [UInt64] = []
            var positions: [TradePosition] = []
            for try await page in Self.client(port, log: log).closedTrades(fromMilliseconds: dataset.range.lowerBound, toMilliseconds: dataset.range.upperBound, pageSize: 40) {
                orders += page.records.map { UInt64($0.order!)! }
                positions.append(try #require(page.position))
            }
            return (orders, positions)
        }
        #expect(orders == MT4SimulatorTests.expectedClosed.map { UInt64($0.order!)! })
        #expect(positions.count == 9 && positions.allSatisfy { $0.closeTime != nil })
        #expect(log.count == 4, "2 × mt_unavailable + 2 drops")
    }

    @Test("resuming from a page's position continues exactly after it")
    func resumeFromPosition() async throws {
        let range = Harness.dataset.range
        try await Harness.withSimulator { port in
            let client = Self.client(port)
            var iterator = client.deals(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, pageSize: 60).makeAsyncIterator()
            let first = try #require(try await iterator.next())
            var rest: [UInt64] = []
            for try await page in client.deals(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, after: first.position, pageSize: 1000) {
                rest += page.records.map { UInt64($0.deal!)! }
            }
            #expect(first.records.map { UInt64($0.deal!)! } + rest == Harness.expectedTickets)
        }
    }

    @Test("back-pressure: the bridge serves a page only when the consumer asks for it")
    func backPressure() async throws {
        let simulator = BridgeSimulator(dataset: Harness.dataset, key: Harness.key)
        let range = Harness.dataset.range
        try await SimulatorHarness.run(simulator) { port in
            var iterator = Self.client(port).deals(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, pageSize: 20).makeAsyncIterator()
            #expect(simulator.statistics.pages == 0, "nothing is read before the first next()")
            for taken in 1...3 {
                let page = try #require(try await iterator.next())
                #expect(page.records.count == 20 && page.more)
                // A consumer storing the page slowly: the client must not read ahead meanwhile.
                try await Task.sleep(for: .milliseconds(150))
                let served = simulator.statistics
                #expect(served.pages <= taken + 1 && served.records <= (taken + 1) * 20, "after \(taken) pages taken: \(served)")
            }
        }
    }

    @Test("a wrong key is thrown at once: non-retryable, no second connection")
    func wrongKeyNotRetried() async throws {
        let simulator = BridgeSimulator(dataset: Harness.dataset, key: Harness.key)
        let wrong = try BridgeKey(id: "mtsync-test", hex: String(repeating: "a5", count: 32))
        let log = RetryLog()
        let range = Harness.dataset.range
        let error = try await SimulatorHarness.run(simulator) { port in
            await #expect(throws: BridgeClientError.self) {
                for try await _ in Self.client(port, key: wrong, log: log).deals(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound) {}
            }
        }
        #expect(error?.retryable == false && error?.protocolError?.code == .remote("auth_failed"))
        #expect(log.count == 0 && simulator.statistics.connections == 1)
    }

    @Test("a bad request (page size out of range) is thrown at once, and the sequence ends")
    func badRequestNotRetried() async throws {
        let log = RetryLog()
        let range = Harness.dataset.range
        try await Harness.withSimulator { port in
            var iterator = Self.client(port, log: log).deals(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, pageSize: 20_000).makeAsyncIterator()
            let error = await #expect(throws: BridgeClientError.self) { try await iterator.next() }
            #expect(error?.protocolError?.code == .remote("bad_request"))
            let afterError = try await iterator.next()
            #expect(afterError == nil, "ended after the error")
        }
        #expect(log.count == 0)
    }

    @Test("a bridge that sends more records than the page's limit is refused as a bridge bug: a protocol violation, tried again only maximumViolations times, nothing of the page handed on (G3)")
    func pageOverrunRefused() async throws {
        let simulator = BridgeSimulator(dataset: Harness.dataset, key: Harness.key, faults: SimulatorFaults(pageOverrun: 5))
        let log = RetryLog()
        let range = Harness.dataset.range
        let (error, pages) = try await SimulatorHarness.run(simulator) { port -> (BridgeClientError?, Int) in
            var pages = 0
            do {
                for try await _ in Self.client(port, log: log).deals(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, pageSize: 20) { pages += 1 }
                return (nil, pages)
            } catch let error as BridgeClientError {
                return (error, pages)
            }
        }
        #expect(error?.kind == .protocolViolation && error?.reason.contains("more than 20 records") == true, "\(String(describing: error))")
        #expect(pages == 0 && log.count == BridgeClient.RetryPolicy().maximumViolations, "every failed attempt is reported, the last one too")
    }

    @Test("a bridge that answers with progress lines forever is given up on after request_timeout, though it is never silent (G3)")
    func endlessProgressTimesOut() async throws {
        let simulator = BridgeSimulator(dataset: Harness.dataset, key: Harness.key, faults: SimulatorFaults(endlessProgress: .milliseconds(200)))
        let range = Harness.dataset.range
        let started = ContinuousClock.now
        let error = try await SimulatorHarness.run(simulator) { port -> BridgeClientError? in
            var endpoint = Harness.endpoint(port)
            endpoint.requestTimeout = .seconds(2)
            endpoint.readTimeout = .seconds(120)  // far beyond the bound below: only the request deadline can end it
            let client = BridgeClient(endpoint: endpoint, retryPolicy: .init(baseDelay: .milliseconds(1), maximumDelay: .milliseconds(2), maximumAttempts: 1))
            return await #expect(throws: BridgeClientError.self) {
                for try await _ in client.deals(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound) {}
            }
        }
        #expect(error?.retryable == true && error?.kind == .timeout && error?.reason.contains("`deals` did not finish within 2") == true, "\(String(describing: error))")
        #expect(ContinuousClock.now - started < .seconds(60), "given up by the request deadline, not the read timeout")
    }

    @Test("retries stop after maximumAttempts and throw the last retryable error")
    func attemptsRunOut() async throws {
        let log = RetryLog()
        let policy = BridgeClient.RetryPolicy(baseDelay: .milliseconds(1), maximumDelay: .milliseconds(2), maximumAttempts: 3)
        // Nobody listens on port 1: connection refused, retryable.
        let client = BridgeClient(endpoint: Harness.endpoint(1), retryPolicy: policy, onRetry: { log.record($0) })
        let error = await #expect(throws: BridgeClientError.self) {
            for try await _ in client.deals(fromMilliseconds: 0, toMilliseconds: 1) {}
        }
        #expect(error?.retryable == true)
        #expect(log.count == 3, "3 attempts, each reported: 2 before a retry, the last before it is thrown")
        #expect(log.delays.last == .some(nil) && log.delays.dropLast().allSatisfy { $0 != nil })
    }

    @Test("cancellation stops the sequence promptly, while the bridge is slow and while backing off", arguments: [
        SimulatorFaults(delayPerRequest: .seconds(30)), SimulatorFaults(unavailableRequests: 1000),
    ])
    func cancellation(faults: SimulatorFaults) async throws {
        let simulator = BridgeSimulator(dataset: Harness.dataset, key: Harness.key, faults: faults)
        let range = Harness.dataset.range
        let slowRetries = BridgeClient.RetryPolicy(baseDelay: .seconds(20), maximumDelay: .seconds(60))
        try await SimulatorHarness.run(simulator) { port in
            let consumer = Task {
                var pages = 0
                for try await _ in Self.client(port, policy: slowRetries).deals(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound) { pages += 1 }
                return pages
            }
            // Let it reach the slow read (or the first backoff pause).
            try await Task.sleep(for: .milliseconds(300))
            let clock = ContinuousClock()
            let start = clock.now
            consumer.cancel()
            let result = await consumer.result
            // Well under the 30 s the bridge would take, with room for a loaded two-core machine.
            #expect(clock.now - start < .seconds(10), "stopped promptly")
            #expect(throws: CancellationError.self) { try result.get() }
        }
    }

    @Test("backoff: full jitter under 0.5 s doubling to 60 s by default, capped, never negative", arguments: 1...12)
    func backoffDelays(retry: Int) {
        var generator = SeededGenerator(seed: UInt64(retry))
        let policy = BridgeClient.RetryPolicy.standard
        #expect(policy.baseDelay == .milliseconds(500) && policy.maximumDelay == .seconds(60) && policy.maximumAttempts == nil)
        let ceiling = min(Duration.milliseconds(500) * (1 << (retry - 1)), .seconds(60))
        let delays = (0..<200).map { _ in policy.delay(beforeRetry: retry, using: &generator) }
        #expect(delays.allSatisfy { $0 >= .zero && $0 <= ceiling })
        #expect(delays.contains { $0 > ceiling / 2 } && delays.contains { $0 < ceiling / 2 }, "spread over the whole interval")
        #expect(policy.delay(beforeRetry: 10_000, using: &generator) <= .seconds(60), "no overflow for long outages")
    }
}

/// SplitMix64, so jitter tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
