import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncTestSupport
import Testing

/// The MT4 reference simulator and the client's `trades` paging over real loopback TCP.
@Suite("MT4 trades: simulator ↔ client over TCP")
struct MT4SimulatorTests {
    typealias Harness = ClientSimulatorTests
    static let dataset = SimulatorHarness.mt4Dataset
    static let simulator = BridgeSimulator(dataset: dataset, key: Harness.key)

    static var expectedClosed: [MT4TradeRecord] {
        (dataset.configuration.firstDay..<dataset.configuration.firstDay + Int64(dataset.configuration.days)).flatMap { day in
            dataset.closedTrades(onDay: day).map(\.record)
        }
    }

    /// Every closed record in the dataset's range, paged with `limit`.
    static func fetchClosed(_ connection: inout BridgeConnection, from: Int64 = dataset.range.lowerBound, to: Int64 = dataset.range.upperBound, limit: Int) async throws -> [MT4TradeRecord] {
        var records: [MT4TradeRecord] = []
        var after: TradePosition?
        while true {
            let page = try await connection.tradesPage(set: .closed, fromMilliseconds: from, toMilliseconds: to, after: after, limit: limit)
            records += page.records
            guard page.more, let next = page.next else { return records }
            #expect(next.closeTime == Int64(page.records.last!.closeTime!) && next.order == UInt64(page.records.last!.order!), "end.next is the last record")
            after = next
        }
    }

    static func truth(of records: [MT4TradeRecord]) -> [UInt64: SimulatedDataset.LoginTruth] {
        var truth: [UInt64: SimulatedDataset.LoginTruth] = [:]
        func cents(_ text: String?) -> Int64 {
            Int64(ExactDecimal(parsing: text ?? "0")!.multiplied(by: ExactDecimal(100))!.description)!
        }
        for record in records where !(2...5).contains(Int(record.cmd!)!) {
            var entry = truth[UInt64(record.login!)!, default: .init()]
            entry.deals += 1
            entry.volumeExt += UInt64(record.volume!)! * 1_000_000
            entry.netCents += cents(record.profit) + cents(record.storage) + cents(record.commission) + cents(record.taxes)
            truth[UInt64(record.login!)!] = entry
        }
        return truth
    }

    @Test("the closed history pages exactly: every record once, in (close_time, order) order, equal to the dataset, ground truth reproduced")
    func closedHistory() async throws {
        let (welcome, info, records) = try await SimulatorHarness.run(Self.simulator) { port in
            try await BridgeConnection.withConnection(to: Harness.endpoint(port)) { connection in
                (connection.welcome, try await connection.serverInfo(), try await Self.fetchClosed(&connection, limit: 37))
            }
        }
        #expect(welcome?.platform == .mt4 && welcome?.serverID == "sim-mt4")
        #expect(welcome?.capabilities.contains("trades") == true && welcome?.capabilities.contains("deals") == false)
        #expect(info["platform"]?.text == "mt4")
        #expect(records.count == 3 * 120)
        #expect(records == Self.expectedClosed, "decoded records equal the dataset's, field by field")
        #expect(Set(records.map(\.order)).count == records.count, "no record twice")
        let keys = records.map { (Int64($0.closeTime!)!, UInt64($0.order!)!) }
        #expect(zip(keys, keys.dropFirst()).allSatisfy { $0 < $1 }, "strictly ascending (close_time, order)")
        #expect(Self.truth(of: records) == Self.dataset.groundTruth())
        #expect(Self.dataset.groundTruth().values.reduce(0) { $0 + $1.deals } == records.filter { !(2...5).contains(Int($0.cmd!)!) }.count)
    }

    @Test("the closed history has what MT4 servers have: balance, credit, cancelled pending orders, same-second closes, DST hours, big tickets, 1/100-lot volumes")
    func closedHistoryVariety() {
        let records = Self.expectedClosed
        let commands = Set(records.map { Int($0.cmd!)! })
        #expect(commands.isSuperset(of: [0, 1, 6, 7]) && !commands.isDisjoint(with: [2, 3, 4, 5]))
        #expect(records.filter { $0.cmd == "6" || $0.cmd == "7" }.allSatisfy { $0.symbol == "" && $0.volume == "0" && $0.profit != "0" && $0.openTime == $0.closeTime })
        #expect(records.filter { (2...5).contains(Int($0.cmd!)!) }.allSatisfy { $0.profit == "0" && $0.commission == "0" && $0.comment == "cancelled" })
        #expect(records.filter { $0.cmd == "0" || $0.cmd == "1" }.allSatisfy { Int64($0.openTime!)! < Int64($0.closeTime!)! && Int($0.volume!)! >= 1 && $0.commission!.hasPrefix("-") })
        #expect(records.contains { Int64($0.openTime!)! < Self.dataset.range.lowerBound / 1000 }, "trades opened before the range, closed in it")
        #expect(records.allSatisfy { UInt64($0.order!)! > UInt64(UInt32.max) }, "tickets above 2^32")
        #expect(Set(records.compactMap(\.symbol)).isSuperset(of: ["GBPUSD.m", "#AAPL", "XAUUSD.r"]), "broker decorations")
        let closeTimes = records.map { Int64($0.closeTime!)! }
        #expect(Set(closeTimes).count < closeTimes.count, "some records share a close second")
        for day in Self.dataset.configuration.firstDay..<Self.dataset.configuration.firstDay + 3 {
            for hour in SimulatedDataset.dstSwitchHours {
                let start = day * 86_400 + hour * 3600
                #expect(closeTimes.contains { (start..<start + 3600).contains($0) }, "day \(day) has closes in \(hour):00–\(hour + 1):00")
            }
        }
    }

    @Test("on a DST switch day (ny-close, 2025-03-09) trades close in the hour the server clock skips")
    func dstSwitchDay() {
        let dataset = SimulatedDataset(.init(seed: 3, serverID: "sim-mt4", firstDay: 20_156 /* 2025-03-09 */, days: 1, dealsPerDay: 50, logins: 5, platform: .mt4))
        let gapStart: Int64 = 20_156 * 86_400 + 9 * 3600
        #expect(dataset.closedTrades(onDay: 20_156).contains { (gapStart..<gapStart + 3600).contains($0.closeTime) })
    }

    @Test("the dataset is deterministic: same seed, same records; another seed, other records")
    func deterministic() {
        let again = SimulatedDataset(Self.dataset.configuration)
        let day = Self.dataset.configuration.firstDay
        #expect(again.closedTrades(onDay: day, generation: 1) == Self.dataset.closedTrades(onDay: day, generation: 1))
        #expect(again.openTrades() == Self.dataset.openTrades())
        var other = Self.dataset.configuration
        other.seed = 12
        #expect(SimulatedDataset(other).closedTrades(onDay: day) != Self.dataset.closedTrades(onDay: day))
        #expect(Self.dataset.deals(onDay: day).isEmpty, "an MT4 dataset has no MT5 deals")
    }

    @Test("a range in the middle of the history pages exactly the records closed in it")
    func partialRange() async throws {
        let from = Self.dataset.range.lowerBound + 30 * 3_600_000, to = from + 20 * 3_600_000
        let records = try await SimulatorHarness.run(Self.simulator) { port in
            try await BridgeConnection.withConnection(to: Harness.endpoint(port)) { connection in
                try await Self.fetchClosed(&connection, from: from, to: to, limit: 1000)
            }
        }
        #expect(records == Self.expectedClosed.filter { (from..<to).contains(Int64($0.closeTime!)! * 1000) })
    }

    @Test("open trades page in ascending order, close_time 0")
    func openTrades() async throws {
        let records = try await SimulatorHarness.run(Self.simulator) { port in
            try await BridgeConnection.withConnection(to: Harness.endpoint(port)) { connection in
                var records: [MT4TradeRecord] = []
                var after: TradePosition?
                while true {
                    let page = try await connection.tradesPage(set: .open, after: after, limit: 5)
                    records += page.records
                    guard page.more, let next = page.next else { return records }
                    #expect(next.closeTime == nil)
                    after = next
                }
            }
        }
        #expect(records == Self.dataset.openTrades().map(\.record))
        #expect(records.count == Self.dataset.configuration.logins)
        #expect(records.allSatisfy { $0.closeTime == "0" && ($0.cmd == "0" || $0.cmd == "1") })
        let orders = records.map { UInt64($0.order!)! }
        #expect(orders == orders.sorted() && Set(orders).count == orders.count)
    }

    @Test("the trades digest (hour and day buckets) matches one computed from the records the client received", arguments: [Int64(3_600_000), 86_400_000])
    func digest(bucket: Int64) async throws {
        let range = Self.dataset.range
        let (buckets, records) = try await SimulatorHarness.run(Self.simulator) { port in
            try await BridgeConnection.withConnection(to: Harness.endpoint(port)) { connection in
                (try await connection.digest(stream: "trades", fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, bucketMilliseconds: bucket),
                 try await Self.fetchClosed(&connection, limit: 1000))
            }
        }
        #expect(Int64(buckets.count) == (range.upperBound - range.lowerBound) / bucket, "every bucket, empty ones included")
        for bucket in buckets {
            var checksum = DigestChecksum()
            var volume: UInt64 = 0
            for record in records where (bucket.fromMilliseconds..<bucket.toMilliseconds).contains(Int64(record.closeTime!)! * 1000) {
                checksum.add(canonicalLine: try #require(DigestChecksum.canonicalLine(record)))
                volume += UInt64(record.volume!)!
            }
            #expect(bucket.count == checksum.count && bucket.checksum == checksum.description && bucket.volume == String(volume), "bucket \(bucket.fromMilliseconds)")
        }
        #expect(buckets.reduce(0) { $0 + $1.count } == records.count)
    }

    @Test("deals on an MT4 bridge, trades on an MT5 bridge, and a digest of the other platform's stream are refused without retry")
    func wrongPlatform() async throws {
        let range = Self.dataset.range
        try await SimulatorHarness.run(Self.simulator) { port in
            let error = await #expect(throws: BridgeClientError.self) {
                try await BridgeConnection.withConnection(to: Harness.endpoint(port)) { connection in
                    try await connection.dealsPage(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, after: nil, limit: 10)
                }
            }
            #expect(error?.protocolError?.code == .remote("unknown_method") && error?.retryable == false)
            let digestError = await #expect(throws: BridgeClientError.self) {
                try await BridgeConnection.withConnection(to: Harness.endpoint(port)) { connection in
                    try await connection.digest(stream: "deals", fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, bucketMilliseconds: 86_400_000)
                }
            }
            #expect(digestError?.protocolError?.code == .remote("bad_request"))
        }
        try await Harness.withSimulator { port in
            let error = await #expect(throws: BridgeClientError.self) {
                try await BridgeConnection.withConnection(to: Harness.endpoint(port)) { connection in
                    #expect(connection.welcome?.platform == .mt5)
                    return try await connection.tradesPage(set: .closed, fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, after: nil, limit: 10)
                }
            }
            #expect(error?.protocolError?.code == .remote("unknown_method") && error?.retryable == false)
        }
    }

    @Test("generation 1: dealer edits, deletions and late trades show in paging, changes (deletes by order) and the digest")
    func generationOne() async throws {
        let simulator = BridgeSimulator(dataset: Self.dataset, key: Harness.key)
        let range = Self.dataset.range
        try await SimulatorHarness.run(simulator) { port in
            let before = try await BridgeConnection.withConnection(to: Harness.endpoint(port)) { connection in
                try await connection.digest(stream: "trades", fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, bucketMilliseconds: 86_400_000)
            }
            simulator.setGeneration(1)
            let (after, records, changes) = try await BridgeConnection.withConnection(to: Harness.endpoint(port)) { connection in
                (try await connection.digest(stream: "trades", fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound, bucketMilliseconds: 86_400_000),
                 try await Self.fetchClosed(&connection, limit: 50),
                 try await connection.changesPage(since: 0, limit: 10_000))
            }
            let expected = (Self.dataset.configuration.firstDay..<Self.dataset.configuration.firstDay + 3).flatMap { Self.dataset.closedTrades(onDay: $0, generation: 1).map(\.record) }
            #expect(records == expected)
            #expect(records.contains { $0.comment == "edited by dealer" })
            #expect(records.contains { $0.comment?.hasPrefix("late #") == true })
            let originalOrders = Set(Self.expectedClosed.map(\.order))
            let deleted = Self.dataset.tradeChanges().filter { $0.op == "delete" }
            #expect(!deleted.isEmpty && deleted.allSatisfy { originalOrders.contains($0.trade.record.order) && !records.map(\.order).contains($0.trade.record.order) })
            #expect(changes.changes.map(\.sequence) == Array(1...Int64(Self.dataset.tradeChanges().count)))
            #expect(changes.changes.allSatisfy { $0.trade != nil && $0.deal == nil }, "MT4 changes carry trade records")
            #expect(changes.changes.contains { $0.operation == .update && $0.trade?.comment == "edited by dealer" && $0.trade?.timestamp != nil })
            #expect(changes.changes.contains { $0.operation == .delete && $0.trade?.order != nil })
            #expect(zip(before, after).allSatisfy { $0.checksum != $1.checksum }, "every day has edits or late trades")
            #expect(Self.truth(of: records) == Self.dataset.groundTruth(generation: 1))
        }
    }
}
