import MTSyncBridge

/// One step of reading several ranges as one stream of pages (`RangedPages`): a page, with the ranges that ended
/// before it and the range it ends if the bridge said it is that range's last.
struct RangedPage<Record: Sendable, Position: Sendable & Hashable>: Sendable {
    /// Ranges whose end was learned only by reading on (an empty page after an exactly full one, or a range with
    /// nothing in it), in order: all their pages came before this one.
    var rangesEndedBefore: [Int] = []
    /// Nil only in the last step, when the last ranges ended after the last page.
    var page: BridgePage<Record, Position>?
    var endsRange: Int?
}

/// Ranges read one after the other as one sequence of pages (a backfill's chunks): whoever reads one page ahead
/// (`ServerSync.storeInOrder`) reads the next range's first page while the last page of the one before is stored,
/// instead of after it (issue 23: a new range's first page is the slow one, ~0.4 s of the simulator's). Each range's
/// end is marked on its last page, or on the first page after it, so a chunk is recorded done only after its last
/// page is stored.
struct RangedPages<Record: Sendable, Position: Sendable & Hashable>: AsyncSequence, Sendable {
    typealias Element = RangedPage<Record, Position>

    let count: Int
    /// The pages of range `index`.
    let pages: @Sendable (_ index: Int) -> BridgePages<Record, Position>

    func makeAsyncIterator() -> Iterator { Iterator(count: count, pages: pages) }

    struct Iterator: AsyncIteratorProtocol, Sendable {
        let count: Int
        let pages: @Sendable (Int) -> BridgePages<Record, Position>
        var index = 0
        var current: BridgePages<Record, Position>.Iterator?

        mutating func next() async throws -> Element? {
            var ended: [Int] = []
            while index < count {
                var iterator = current ?? pages(index).makeAsyncIterator()
                current = nil
                if let page = try await iterator.next() {
                    guard iterator.isFinished else {
                        current = iterator
                        return RangedPage(rangesEndedBefore: ended, page: page)
                    }
                    index += 1
                    return RangedPage(rangesEndedBefore: ended, page: page, endsRange: index - 1)
                }
                ended.append(index)
                index += 1
            }
            return ended.isEmpty ? nil : RangedPage(rangesEndedBefore: ended)
        }
    }
}
