/// One page of a history read through a `BridgeSource`: its records, in the bridge's order, what must be
/// quarantined, and the position of its last record in range. A consumer that stores the page with its position
/// (in one transaction) can resume after it.
public struct BridgePage<Record: Sendable, Position: Sendable & Hashable>: Sendable {
    /// The records to store (inside the requested range, or without a readable time for the normalizer to refuse).
    public internal(set) var records: [Record]
    /// Records outside the requested range: quarantined with that reason.
    public internal(set) var outsideRange: [Record]
    /// Lines that could not be read (quarantined) and what the bridge said that was not believed (reported).
    public internal(set) var notes: ResponseNotes
    /// Position of the last record sent inside the range: pass it as `after` to continue after this page. Nil on a
    /// last page without one (nothing to move a cursor to).
    public internal(set) var position: Position?
    /// Whether the bridge said more records may remain in the range (false on the last page).
    public internal(set) var more: Bool

    public init(records: [Record], outsideRange: [Record] = [], notes: ResponseNotes = ResponseNotes(), position: Position?, more: Bool) {
        self.records = records
        self.outsideRange = outsideRange
        self.notes = notes
        self.position = position
        self.more = more
    }
}

/// A history as an `AsyncSequence` of pages, from a `BridgeSource`'s `deals` or `closedTrades`.
///
/// Each call to the iterator's `next()` reads one page (`BridgeClient`: on its session when it has one, else on a
/// connection of its own): exact back-pressure (the bridge has served nothing the consumer did not ask for),
/// cancellation that is simply the consumer's own, and retries that restart one page from the last position
/// delivered.
///
/// A page that fails half-way with a retryable error is read again whole after the backoff, from the position
/// after the last page delivered; nothing of a failed page is ever delivered. After an error is thrown (a
/// non-retryable failure, retries used up, or cancellation), the sequence ends.
public struct BridgePages<Record: Sendable, Position: Sendable & Hashable>: AsyncSequence, Sendable {
    public typealias Element = BridgePage<Record, Position>
    /// Reads the page after a position (nil: from the range's start), retries included.
    public typealias ReadPage = @Sendable (Position?) async throws -> BridgePage<Record, Position>

    let after: Position?
    let readPage: ReadPage

    /// The pages `readPage` returns, starting after `after`, until one is empty or says no more remain.
    public init(after: Position?, readPage: @escaping ReadPage) {
        self.after = after
        self.readPage = readPage
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(position: after, readPage: readPage)
    }

    public struct Iterator: AsyncIteratorProtocol, Sendable {
        /// The position after the last page delivered (or the starting `after`).
        public private(set) var position: Position?
        let readPage: ReadPage
        private var finished = false

        init(position: Position?, readPage: @escaping ReadPage) {
            self.position = position
            self.readPage = readPage
        }

        /// Whether the range is known to hold nothing more: `next()` returns nil without reading. True after a page
        /// that said no more remain, so a consumer knows a page is the range's last without reading again.
        public var isFinished: Bool { finished }

        /// The next page, read only now; nil when the range is exhausted.
        public mutating func next() async throws -> Element? {
            guard !finished else { return nil }
            let page: Element
            do {
                page = try await readPage(position)
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
            return page
        }
    }
}
