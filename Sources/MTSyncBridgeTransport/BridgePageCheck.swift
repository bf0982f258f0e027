/// What a history page must satisfy before anything of it is stored (bridge-protocol/README.md §4.2, §4.3): its
/// records' times inside the requested `[from, to)` and its end position past where it started. Both would be
/// harmless for the facts themselves (they merge by identity), but not for the live cursor: a deal stamped far in
/// the future would move it there for good, and the incremental sync would then read past everything in between
/// until an operator moved it back; a page that does not advance would be read forever. Either is a bridge bug;
/// the page is refused with a non-retryable error that says so, and the cursor stays where it was.
public enum BridgePageCheck {
    /// Why the page is refused, nil when it is fine. `times`: each record's time in milliseconds of server time
    /// (nil where unreadable: the normalizer quarantines such a record); `start` and `end`: the positions before and
    /// after the page as (milliseconds, ticket).
    public static func problem(
        times: [Int64?], from: Int64, to: Int64, start: (milliseconds: Int64, ticket: UInt64)?, end: (milliseconds: Int64, ticket: UInt64)?
    ) -> String? {
        if let outside = times.lazy.compactMap({ $0 }).first(where: { $0 < from || $0 >= to }) {
            return "the bridge answered a record at \(outside) ms (server time) outside the requested range [\(from), \(to)): "
                + "refusing the page rather than storing it and moving the cursor there; check the bridge with `mtsync bridge check`"
        }
        if let start, let end, (end.milliseconds, end.ticket) <= (start.milliseconds, start.ticket) {
            return "the bridge's page ended at (\(end.milliseconds) ms, ticket \(end.ticket)), not after where it started "
                + "(\(start.milliseconds) ms, ticket \(start.ticket)): it would be read forever; check the bridge with `mtsync bridge check`"
        }
        return nil
    }
}
