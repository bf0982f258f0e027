import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncTestSupport
import Testing

/// The client against the reference simulator over real loopback TCP.
@Suite("Bridge client ↔ simulator over TCP")
struct ClientSimulatorTests {
    static let key = try! BridgeKey(id: "mtsync-test", hex: String(repeating: "5a", count: 32))
    static let dataset = SimulatedDataset(.init(seed: 7, serverID: "sim-mt5", days: 3, dealsPerDay: 150, logins: 12))

    /// Runs a simulator on a free loopback port for the duration of `body`.
    static func withSimulator<Result: Sendable>(
        faults: SimulatorFaults = .none, dataset: SimulatedDataset = Self.dataset,
        _ body: @Sendable (Int) async throws -> Result
    ) async throws -> Result {
        try await SimulatorHarness.run(BridgeSimulator(dataset: dataset, key: key, faults: faults), body)
    }

    static func endpoint(_ port: Int, key: BridgeKey = Self.key) -> BridgeEndpoint {
        BridgeEndpoint(host: "127.0.0.1", port: port, key: key, connectTimeout: .seconds(5), readTimeout: .seconds(10))
    }

    /// Pages through the whole dataset range; returns the tickets in the order received.
    static func fetchAll(_ connection: inout BridgeConnection, after start: (timeMsc: Int64, deal: UInt64)? = nil, limit: Int = 37) async throws -> [UInt64] {
        var tickets: [UInt64] = []
        var after = start
        while true {
            let page = try await connection.dealsPage(fromMilliseconds: dataset.range.lowerBound, toMilliseconds: dataset.range.upperBound, after: after, limit: limit)
            tickets += page.records.map { UInt64($0.deal!)! }
            guard page.more, let next = page.next else { return tickets }
            after = next
        }
    }

    static var expectedTickets: [UInt64] {
        (dataset.configuration.firstDay..<dataset.configuration.firstDay + Int64(dataset.configuration.days)).flatMap { day in
            dataset.deals(onDay: day).map { UInt64($0.deal!)! }
        }
    }

    @Test("handshake, server.info, then every deal exactly once in (TimeMsc, Deal) order across pages")
    func pagesTheWholeRange() async throws {
        let tickets = try await Self.withSimulator { port in
            try await BridgeConnection.withConnection(to: Self.endpoint(port)) { connection in
                #expect(connection.welcome?.serverID == "sim-mt5")
                let info = try await connection.serverInfo()
                #expect(info["time_zone"]?["rule"]?.text == "ny-close")
                return try await Self.fetchAll(&connection)
            }
        }
        #expect(tickets.count >= 450, "about 150 deals a day for 3 days")
        #expect(tickets == Self.expectedTickets)
        #expect(Set(tickets).count == tickets.count, "no deal twice")
        #expect(tickets.allSatisfy { $0 > UInt64(UInt32.max) }, "tickets above 2^32 survive the wire")
    }

    @Test("a wrong key is refused: a typed, non-retryable error")
    func wrongKey() async throws {
        let wrong = try BridgeKey(id: "mtsync-test", hex: String(repeating: "a5", count: 32))
        let error = try await Self.withSimulator { port in
            await #expect(throws: BridgeClientError.self) {
                try await BridgeConnection.withConnection(to: Self.endpoint(port, key: wrong)) { _ in 0 }
            }
        }
        #expect(error?.retryable == false)
        #expect(error?.protocolError?.code == .remote("auth_failed"))
        #expect(!(error?.description.contains(String(repeating: "a5", count: 32)) ?? true), "the key is never in an error")
    }

    @Test("a dropped connection is a retryable error; resuming from the last position loses and repeats nothing")
    func droppedConnection() async throws {
        let tickets = try await Self.withSimulator(faults: SimulatorFaults(dropConnectionAfterRecords: 100)) { port in
            var received: [UInt64] = []
            var position: (timeMsc: Int64, deal: UInt64)?
            for attempt in 1...10 {
                do {
                    try await BridgeConnection.withConnection(to: Self.endpoint(port)) { connection in
                        while true {
                            let page = try await connection.dealsPage(fromMilliseconds: Self.dataset.range.lowerBound, toMilliseconds: Self.dataset.range.upperBound, after: position, limit: 40)
                            // A page counts only once complete, as the store will commit whole pages.
                            received += page.records.map { UInt64($0.deal!)! }
                            if let last = page.records.last { position = (Int64(last.timeMsc!)!, UInt64(last.deal!)!) }
                            if !page.more { return }
                        }
                    }
                    return received
                } catch let error as BridgeClientError {
                    #expect(error.retryable, "attempt \(attempt): \(error)")
                }
            }
            Issue.record("did not finish in 10 attempts")
            return received
        }
        #expect(tickets == Self.expectedTickets)
    }

    @Test("a malformed line and an oversize line cost that line, not the page: set aside with their bytes, every record still read", arguments: [
        (SimulatorFaults(malformedLineAfterRecords: 5), "malformed_line"), (SimulatorFaults(oversizeLineAfterRecords: 5), "line_too_long"),
    ])
    func badLines(faults: SimulatorFaults, code: String) async throws {
        let (tickets, rejected, anomalies) = try await Self.withSimulator(faults: faults) { port in
            try await BridgeConnection.withConnection(to: Self.endpoint(port)) { connection in
                var tickets: [UInt64] = [], rejected: [RejectedLine] = [], anomalies: [String] = []
                var after: (timeMsc: Int64, deal: UInt64)?
                while true {
                    let page = try await connection.dealsPage(fromMilliseconds: Self.dataset.range.lowerBound, toMilliseconds: Self.dataset.range.upperBound, after: after, limit: 37)
                    tickets += page.records.map { UInt64($0.deal!)! }
                    rejected += page.notes.rejected
                    anomalies += page.notes.anomalies.map(\.code)
                    guard page.more, let last = page.records.last else { return (tickets, rejected, anomalies) }
                    after = (Int64(last.timeMsc!)!, UInt64(last.deal!)!)
                }
            }
        }
        #expect(tickets == Self.expectedTickets)
        #expect(rejected.map(\.code) == [code])
        // The oversize line is kept only as its first bytes: the quarantine holds a prefix, not a megabyte.
        #expect(rejected.allSatisfy { !$0.raw.isEmpty && $0.raw.count <= 4_096 })
        #expect(anomalies == ["count_mismatch"], "the bad line is an extra line: the end's count says one less than arrived")
    }

    @Test("a retryable bridge error (MetaTrader unavailable) is reported as retryable; the next attempt succeeds")
    func unavailableThenOK() async throws {
        try await Self.withSimulator(faults: SimulatorFaults(unavailableRequests: 1)) { port in
            let error = await #expect(throws: BridgeClientError.self) {
                try await BridgeConnection.withConnection(to: Self.endpoint(port)) { connection in
                    try await connection.serverInfo()
                }
            }
            #expect(error?.retryable == true && error?.protocolError?.code == .remote("mt_unavailable"))
            let tickets = try await BridgeConnection.withConnection(to: Self.endpoint(port)) { connection in
                try await Self.fetchAll(&connection, limit: 1000)
            }
            #expect(tickets == Self.expectedTickets)
        }
    }

    @Test("a bridge silent past the read timeout: the connection is closed and the error is retryable")
    func readTimeout() async throws {
        try await Self.withSimulator(faults: SimulatorFaults(delayPerRequest: .seconds(60))) { port in
            var endpoint = Self.endpoint(port)
            endpoint.readTimeout = .milliseconds(500)
            let started = ContinuousClock.now
            let error = await #expect(throws: BridgeClientError.self) {
                try await BridgeConnection.withConnection(to: endpoint) { connection in try await connection.serverInfo() }
            }
            #expect(error?.retryable == true)
            #expect(ContinuousClock.now - started < .seconds(20), "the timeout fired, not the bridge's answer a minute later")
        }
    }

    @Test("nobody listening: a retryable connection error")
    func refused() async throws {
        let error = await #expect(throws: BridgeClientError.self) {
            try await BridgeConnection.withConnection(to: Self.endpoint(1)) { _ in 0 }
        }
        #expect(error?.retryable == true)
    }
}
