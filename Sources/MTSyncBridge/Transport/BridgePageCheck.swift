/// What a history page must satisfy, and what mtsync believes of it (bridge-protocol/README.md §4.2, §4.3;
/// docs/design invariant 7): **a position is only ever the position of a record that was sent and lies in the
/// requested range**. `end.next` is the bridge's claim of that same position; when it disagrees, it is reported
/// and not believed, so a `next` far in the future cannot move a cursor past history nobody stored. A record
/// outside `[from, to)` is quarantined (it would otherwise pull the live cursor to its time), and a page whose
/// last record is not after where it started would be read forever: refused as a protocol violation.
public enum BridgePageCheck {
    /// Sorts one page's records. `locate` gives a record's time in ms of server time and its position (nil when
    /// unreadable); `key` orders positions.
    public static func sort<Record: Sendable, Position: Sendable & Hashable>(
        _ page: [Record], notes: ResponseNotes, more: Bool, claimedNext: Position?, from: Int64, to: Int64, after: Position?, endpoint: String,
        locate: (Record) -> (milliseconds: Int64, position: Position)?, key: (Position) -> (Int64, UInt64)
    ) throws -> BridgePage<Record, Position> {
        var sorted = BridgePage<Record, Position>(records: [], outsideRange: [], notes: notes, position: nil, more: more)
        sorted.records.reserveCapacity(page.count)
        var outOfOrder = false
        for record in page {
            guard let located = locate(record) else {
                sorted.records.append(record)
                continue
            }
            guard located.milliseconds >= from, located.milliseconds < to else {
                sorted.outsideRange.append(record)
                continue
            }
            sorted.records.append(record)
            if let last = sorted.position, key(located.position) <= key(last) {
                // Out of order within the page: the furthest record sent is still one that was sent and stored.
                outOfOrder = true
                continue
            }
            sorted.position = located.position
        }
        if !sorted.outsideRange.isEmpty {
            sorted.notes.anomalies.append(BridgeAnomaly(
                code: "outside_range", message: "\(sorted.outsideRange.count) record(s) outside the requested range [\(from), \(to)) ms: quarantined"))
        }
        if outOfOrder {
            sorted.notes.anomalies.append(BridgeAnomaly(
                code: "out_of_order", message: "the page's records are not in ascending position order: paging continues after the furthest one sent"))
        }
        if claimedNext == nil, more, sorted.position != nil, !notes.anomalies.contains(where: { $0.code == "unreadable_next" }) {
            sorted.notes.anomalies.append(BridgeAnomaly(
                code: "next_missing", message: "a page says more records follow but gives no end.next: continuing after the last record sent"))
        }
        if let claimedNext, let position = sorted.position, claimedNext != position {
            sorted.notes.anomalies.append(BridgeAnomaly(
                code: "next_not_last", message: "end.next \(claimedNext) is not the last record sent \(position): continuing after the last record sent"))
        }
        if let position = sorted.position, let after, key(position) <= key(after) {
            throw BridgeClientError(
                endpoint: endpoint, kind: .protocolViolation, retryable: true,
                reason: "the bridge's page ended at \(position), not after where it started \(after): it would be read forever; check the bridge with `mtsync bridge check`",
                protocolError: nil)
        }
        if sorted.position == nil, more, !page.isEmpty || !notes.rejected.isEmpty {
            throw BridgeClientError(
                endpoint: endpoint, kind: .protocolViolation, retryable: true,
                reason: "a page says more records follow but none of its \(page.count + notes.rejected.count) lines is a readable record inside [\(from), \(to)): there is no position to continue after; check the bridge with `mtsync bridge check`",
                protocolError: nil)
        }
        return sorted
    }
}
