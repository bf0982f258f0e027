import MTSyncBridgeTransport
import Testing

@Suite("A history page is refused before anything of it is stored when it breaks the range or does not advance")
struct BridgePageCheckTests {
    @Test("records inside [from, to) that advance past the start are fine; unreadable times are the normalizer's business", arguments: [
        [Int64?](arrayLiteral: 1_000, 1_500, 1_999), [1_000], [nil, 1_200],
    ])
    func fine(times: [Int64?]) {
        #expect(BridgePageCheck.problem(times: times, from: 1_000, to: 2_000, start: (999, 5), end: (1_999, 1)) == nil)
    }

    @Test("a record outside the requested range: refused, naming it and the range", arguments: [Int64(999), 2_000, 4_102_444_800_000])
    func outside(time: Int64) throws {
        let problem = try #require(BridgePageCheck.problem(times: [1_000, time], from: 1_000, to: 2_000, start: nil, end: (1_500, 1)))
        #expect(problem.contains("\(time) ms") && problem.contains("[1000, 2000)") && problem.contains("mtsync bridge check"))
    }

    @Test("a page that ends where it started, or before, would be read forever: refused", arguments: [
        (Int64(1_500), UInt64(7)), (1_500, 6), (1_400, 99),
    ])
    func notAdvancing(end: (Int64, UInt64)) throws {
        let problem = try #require(BridgePageCheck.problem(times: [1_500], from: 1_000, to: 2_000, start: (1_500, 7), end: end))
        #expect(problem.contains("not after where it started"))
    }
}
