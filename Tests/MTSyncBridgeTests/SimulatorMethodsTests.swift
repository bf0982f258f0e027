import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncTestSupport
import Testing

@Suite("Every request against the simulator over TCP")
struct SimulatorMethodsTests {
    typealias Harness = ClientSimulatorTests

    @Test("accounts page by login with the customer id; symbols carry contract sizes")
    func accountsAndSymbols() async throws {
        let (accounts, symbols) = try await Harness.withSimulator { port in
            try await BridgeConnection.withConnection(to: Harness.endpoint(port)) { connection in
                var all: [AccountRecord] = []
                var after: UInt64?
                while true {
                    let page = try await connection.accountsPage(after: after, limit: 5)
                    all += try page.accounts.map { try AccountNormalizer.normalize($0, zone: ServerTimeZone("+00:00")!).get() }
                    guard page.more, let last = all.last else { break }
                    after = last.login
                }
                return (all, try await connection.symbols())
            }
        }
        #expect(accounts.map(\.login) == Harness.dataset.accounts.map(\.login))
        #expect(accounts.first?.clientID == "C-100001")
        #expect(accounts.filter { $0.group == "demo\\forex" }.count == Harness.dataset.configuration.logins / 5)
        #expect(symbols.compactMap { $0["symbol"]?.text } == SimulatedDataset.symbols.sorted(), "ascending by name (§4.5)")
        #expect(symbols.first { $0["symbol"]?.text == "XAUUSDm" }?["contract_size"]?.text == "100")
    }

    @Test("a live simulator serves the history only as far as the server's clock has reached")
    func liveServesUpToTheClock() async throws {
        let zone = try #require(ServerTimeZone("ny-close"))
        func serverNow() -> Int64 { zone.serverMilliseconds(fromUTCMilliseconds: BridgeConnection.utcNowMilliseconds()) }
        // Today and tomorrow in server time: tomorrow's deals are always ahead of the clock.
        let today = serverNow() / 86_400_000
        let dataset = SimulatedDataset(.init(seed: 9, serverID: "sim-mt5", firstDay: today, days: 2, dealsPerDay: 2_000, logins: 12))
        let simulator = BridgeSimulator(dataset: dataset, key: ClientSimulatorTests.key, live: true)
        let before = serverNow()
        let served = try await SimulatorHarness.run(simulator) { port in
            try await BridgeConnection.withConnection(to: Harness.endpoint(port)) { connection in
                var times: [Int64] = []
                var after: (timeMsc: Int64, deal: UInt64)?
                while true {
                    let page = try await connection.dealsPage(fromMilliseconds: dataset.range.lowerBound, toMilliseconds: dataset.range.upperBound, after: after, limit: 500)
                    times += page.records.map { Int64($0.timeMsc!)! }
                    guard page.more, let next = page.next else { break }
                    after = next
                }
                return times
            }
        }
        let after = serverNow()
        let reached = (0..<2).flatMap { dataset.deals(onDay: today + $0) }.map { Int64($0.timeMsc!)! }
        #expect(served.allSatisfy { $0 <= after }, "nothing from ahead of the clock")
        #expect(served.count >= reached.filter { $0 <= before }.count, "everything the clock had reached")
        #expect(reached.contains { $0 > after }, "the dataset does reach ahead (tomorrow)")
    }

    @Test("digest buckets match checksums recomputed from the deals, and change when a dealer edits history")
    func digestAndChanges() async throws {
        let dataset = Harness.dataset
        let dayStart = dataset.range.lowerBound
        try await Harness.withSimulator { port in
            try await BridgeConnection.withConnection(to: Harness.endpoint(port)) { connection in
                let buckets = try await connection.digest(fromMilliseconds: dayStart, toMilliseconds: dayStart + 86_400_000, bucketMilliseconds: 3_600_000)
                #expect(buckets.count == 24, "every hour, empty ones included")
                // Recompute independently from a full read of the same day.
                var deals: [MT5DealRecord] = []
                var after: (timeMsc: Int64, deal: UInt64)?
                while true {
                    let page = try await connection.dealsPage(fromMilliseconds: dayStart, toMilliseconds: dayStart + 86_400_000, after: after, limit: 1000)
                    deals += page.records
                    guard page.more, let next = page.next else { break }
                    after = next
                }
                for bucket in buckets {
                    var checksum = DigestChecksum()
                    var volume: UInt64 = 0
                    for deal in deals where (bucket.fromMilliseconds..<bucket.toMilliseconds).contains(Int64(deal.timeMsc!)!) {
                        checksum.add(canonicalLine: DigestChecksum.canonicalLine(deal)!)
                        volume += UInt64(deal.volumeExt!)!
                    }
                    #expect(bucket.count == checksum.count && bucket.checksum == checksum.description && bucket.volume == String(volume))
                }
                let changes = try await connection.changesPage(since: 0, limit: 100)
                #expect(changes.changes.isEmpty, "generation 0 has no edits yet")
            }
        }
    }

    @Test("after a dealer's edits, late postings and deletions: changes lists them in order and the digest differs")
    func generationOne() async throws {
        let dataset = Harness.dataset
        let simulator = BridgeSimulator(dataset: dataset, key: Harness.key)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await simulator.run(onListening: { continuation.yield($0) }) }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let range = dataset.range
            let before = try await BridgeConnection.withConnection(to: Harness.endpoint(port)) { connection in
                try await connection.digest(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, bucketMilliseconds: 86_400_000)
            }
            simulator.setGeneration(1)
            let (after, changes) = try await BridgeConnection.withConnection(to: Harness.endpoint(port)) { connection in
                let digest = try await connection.digest(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, bucketMilliseconds: 86_400_000)
                var changes: [BridgeChange] = []
                var since: Int64 = 0
                while true {
                    let page = try await connection.changesPage(since: since, limit: 4)
                    changes += page.changes
                    guard page.more, let last = page.changes.last else { break }
                    since = last.sequence
                }
                return (digest, changes)
            }
            #expect(changes.map(\.sequence) == Array(1...Int64(changes.count)))
            #expect(changes.contains { $0.operation == .update && $0.deal?.comment == "edited by dealer" })
            #expect(changes.contains { $0.operation == .delete && $0.deal?.deal != nil })
            #expect(changes.count == dataset.changes().count)
            #expect(zip(before, after).allSatisfy { $0.checksum != $1.checksum }, "every day has edits or late deals")
            group.cancelAll()
        }
    }
}
