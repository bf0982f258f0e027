/// One page of a history read through `BridgeClient`: its records, in the bridge's order, what must be
/// quarantined, and the position of its last record in range. A consumer that stores the page with its position
/// (in one transaction) can resume after it.
public struct BridgePage<Record: Sendable, Position: Sendable & Hashable>: Sendable {
    /// The records to store (inside the requested range, or without a readable time for the normalizer to refuse).
    public let records: [Record]
    /// Records outside the requested range: quarantined with that reason.
    public let outsideRange: [Record]
    /// Lines that could not be read (quarantined) and what the bridge said that was not believed (reported).
    public let notes: ResponseNotes
    /// Position of the last record sent inside the range: pass it as `after` to continue after this page. Nil on a
    /// last page without one (nothing to move a cursor to).
    public let position: Position?
    /// Whether the bridge said more records may remain in the range (false on the last page).
    public let more: Bool
}

/// A history as an `AsyncSequence` of pages, from `BridgeClient.deals` or `BridgeClient.closedTrades`.
///
/// Each call to the iterator's `next()` reads one page, on the client's session when it has one (else on a
/// connection of its own): exact back-pressure (the bridge has served nothing the consumer did not ask for),
/// cancellation that is simply the consumer's own, and retries that restart one page from the last position
/// delivered.
///
/// A page that fails half-way with a retryable error is read again whole after the backoff, from the position
/// after the last page delivered; nothing of a failed page is ever delivered. After an error is thrown (a
/// non-retryable failure, retries used up, or cancellation), the sequence ends.
public struct BridgePages<Record: Sendable, Position: Sendable & Hashable>: AsyncSequence, Sendable {
    public typealias Element = BridgePage<Record, Position>
    typealias Fetch = @Sendable (inout BridgeConnection, Position?) async throws -> SortedPage<Record, Position>

    let client: BridgeClient
    let after: Position?
    let fetch: Fetch

    init(client: BridgeClient, after: Position?, fetch: @escaping Fetch) {
        self.client = client
        self.after = after
        self.fetch = fetch
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(client: client, position: after, fetch: fetch)
    }

    public struct Iterator: AsyncIteratorProtocol, Sendable {
        let client: BridgeClient
        /// The position after the last page delivered (or the starting `after`).
        public private(set) var position: Position?
        let fetch: Fetch
        private var finished = false

        init(client: BridgeClient, position: Position?, fetch: @escaping Fetch) {
            self.client = client
            self.position = position
            self.fetch = fetch
        }

        /// The next page, read only now; nil when the range is exhausted.
        public mutating func next() async throws -> Element? {
            guard !finished else { return nil }
            let after = position
            let fetch = self.fetch
            let page: SortedPage<Record, Position>
            do {
                page = try await client.withRetries { connection in try await fetch(&connection, after) }
            } catch {
                finished = true
                throw error
            }
            // An empty page ends the range (it follows a page that was exactly full).
            guard !page.records.isEmpty || !page.outsideRange.isEmpty || !page.notes.rejected.isEmpty else {
                finished = true
                return nil
            }
            if let reached = page.position { position = reached }
            finished = !page.more
            return BridgePage(records: page.records, outsideRange: page.outsideRange, notes: page.notes, position: page.position, more: page.more)
        }
    }
}
