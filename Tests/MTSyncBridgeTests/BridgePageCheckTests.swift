import MTSyncBridge
import Testing

/// Invariant 7: a position is only ever that of a record sent and inside the requested range; what the bridge says
/// about positions (`end.next`) is checked against what it sent, never believed on its own.
@Suite("A history page's position is its last record in range; what the bridge claims is checked, not believed")
struct BridgePageCheckTests {
    /// A record as (time ms, ticket); nil: no readable time.
    typealias Record = (time: Int64?, ticket: UInt64)
    struct Position: Hashable, Sendable, CustomStringConvertible {
        var time: Int64, ticket: UInt64
        var description: String { "(\(time), \(ticket))" }
    }

    static func sort(_ records: [Record], more: Bool = true, next: Position? = nil, after: Position? = nil) throws -> BridgePage<Int, Position> {
        // The records travel as their index, so the test can say which were kept.
        try BridgePageCheck.sort(
            Array(records.indices), notes: ResponseNotes(), more: more, claimedNext: next, from: 1_000, to: 2_000, after: after, endpoint: "test"
        ) { index in records[index].time.map { ($0, Position(time: $0, ticket: records[index].ticket)) } } key: { ($0.time, $0.ticket) }
    }

    @Test("records inside [from, to) that advance: all kept, the position is the last one's")
    func fine() throws {
        let page = try Self.sort([(1_000, 1), (1_500, 2), (1_999, 3)], next: Position(time: 1_999, ticket: 3), after: Position(time: 999, ticket: 5))
        #expect(page.records == [0, 1, 2] && page.outsideRange.isEmpty && page.notes.anomalies.isEmpty)
        #expect(page.position == Position(time: 1_999, ticket: 3))
    }

    @Test("an end.next far past the last record sent (year 9999) is reported and not believed", arguments: [
        Position(time: 253_402_300_799_000, ticket: 1), Position(time: 1_500, ticket: 3), Position(time: 1_000, ticket: 1),
    ])
    func nextIsNotBelieved(next: Position) throws {
        let page = try Self.sort([(1_000, 1), (1_500, 2)], next: next)
        #expect(page.position == Position(time: 1_500, ticket: 2))
        #expect(page.notes.anomalies.map(\.code) == ["next_not_last"])
    }

    @Test("a record outside the requested range is set aside for the quarantine; the position ignores it", arguments: [Int64(999), 2_000, 253_402_300_799_000])
    func outside(time: Int64) throws {
        let page = try Self.sort([(1_000, 1), (time, 9), (1_200, 2)], more: false)
        #expect(page.records == [0, 2] && page.outsideRange == [1])
        #expect(page.position == Position(time: 1_200, ticket: 2))
        #expect(page.notes.anomalies.map(\.code) == ["outside_range"])
    }

    @Test("more records promised without an end.next: paging goes on after the last record sent, and the missing next is reported")
    func nextMissing() throws {
        let page = try Self.sort([(1_000, 1), (1_200, 2)], more: true, next: nil)
        #expect(page.position == Position(time: 1_200, ticket: 2) && page.notes.anomalies.map(\.code) == ["next_missing"])
    }

    @Test("a record without a readable time stays for the normalizer to refuse; it moves no position")
    func unreadableTime() throws {
        let page = try Self.sort([(1_000, 1), (nil, 2)])
        #expect(page.records == [0, 1] && page.position == Position(time: 1_000, ticket: 1))
    }

    @Test("records out of order within a page: all kept, the position is the furthest one sent, and it is reported")
    func outOfOrder() throws {
        let page = try Self.sort([(1_500, 1), (1_900, 2), (1_200, 3)], more: false)
        #expect(page.records == [0, 1, 2] && page.position == Position(time: 1_900, ticket: 2))
        #expect(page.notes.anomalies.map(\.code) == ["out_of_order"])
    }

    @Test("a page that ends where it started, or before, would be read forever: refused as a protocol violation", arguments: [
        Position(time: 1_500, ticket: 7), Position(time: 1_500, ticket: 8), Position(time: 1_900, ticket: 1),
    ])
    func notAdvancing(after: Position) throws {
        let error = try #require(throws: BridgeClientError.self) { try Self.sort([(1_500, 7)], after: after) }
        #expect(error.kind == .protocolViolation && error.retryable && error.reason.contains("not after where it started"))
    }

    @Test("more records promised but no readable record in range: nowhere to continue from, refused")
    func morePromisedWithoutPosition() throws {
        let error = try #require(throws: BridgeClientError.self) { try Self.sort([(5_000, 1), (nil, 2)], more: true) }
        #expect(error.kind == .protocolViolation)
        // The same page as the range's last: its records go to the quarantine and the normalizer, nothing moves.
        let last = try Self.sort([(5_000, 1), (nil, 2)], more: false)
        #expect(last.position == nil && last.outsideRange == [0] && last.records == [1])
    }
}
