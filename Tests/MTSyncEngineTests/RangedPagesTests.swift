import Foundation
import MTSyncBridge
@testable import MTSyncEngine
import Testing

/// A backfill's chunks read as one stream of pages: each range's end is marked on its last page when the bridge said
/// no more remain, so the next range's first page can be read while that page is stored; a range that ends on an
/// empty page (its last one was exactly full) or has none is marked on the next page read, or alone at the end.
@Suite("Ranges read as one stream of pages, each range's end marked")
struct RangedPagesTests {
    /// Range 0: two pages, the second says no more. Range 1: nothing. Range 2: one full page, then an empty one.
    /// Range 3: the same. Range 4: one page.
    static let served: [[BridgePage<Int, Int>]] = [
        [BridgePage(records: [1, 2], position: 2, more: true), BridgePage(records: [3], position: 3, more: false)],
        [BridgePage(records: [], position: nil, more: false)],
        [BridgePage(records: [4, 5], position: 5, more: true), BridgePage(records: [], position: nil, more: false)],
        [BridgePage(records: [6, 7], position: 7, more: true), BridgePage(records: [], position: nil, more: false)],
        [BridgePage(records: [8], position: 8, more: false)],
    ]

    @Test("pages in order; a range's end on its last page, or on the next page when an empty page ended it, or alone after the last", arguments: [
        (served.count, ["[1, 2]", "[3] ends 0", "after 1 [4, 5]", "after 2 [6, 7]", "after 3 [8] ends 4"]),
        (4, ["[1, 2]", "[3] ends 0", "after 1 [4, 5]", "after 2 [6, 7]", "after 3"]),
    ])
    func steps(ranges: Int, expected: [String]) async throws {
        let pages = RangedPages<Int, Int>(count: ranges) { range in
            BridgePages(after: nil) { after in
                let pages = Self.served[range]
                let index = after.map { position in pages.firstIndex { $0.position == position }! + 1 } ?? 0
                return pages[index]
            }
        }
        var steps: [String] = []
        for try await step in pages {
            let before = step.rangesEndedBefore.isEmpty ? "" : "after \(step.rangesEndedBefore.map(String.init).joined(separator: ",")) "
            let step = before + (step.page.map { "\($0.records)" } ?? "") + (step.endsRange.map { " ends \($0)" } ?? "")
            steps.append(step.trimmingCharacters(in: .whitespaces))
        }
        #expect(steps == expected)
    }
}
