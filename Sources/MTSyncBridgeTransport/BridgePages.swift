/// One page of a history read through `BridgeClient`: its records, in the bridge's order, and the position of
/// the last one. A consumer that stores the page with its position (in one transaction) can resume after it.
public struct BridgePage<Record: Sendable, Position: Sendable & Hashable>: Sendable {
    public let records: [Record]
    /// Position of the last record: pass it as `after` to continue after this page.
    public let position: Position
    /// Whether the bridge said more records may remain in the range (false on the last page).
    public let more: Bool
}

/// A history as an `AsyncSequence` of pages, from `BridgeClient.deals` or `BridgeClient.closedTrades`.
///
/// Each call to the iterator's `next()` opens a connection, reads one page and closes it. `BridgeConnection` is
/// `~Copyable` and lives only inside `BridgeConnection.withConnection`, so keeping one across `next()` calls
/// would need a task of its own holding the connection, fed requests through a channel: work running while
/// nobody asked for it, keep-alive pings while a slow consumer stores a page (bridges may close connections idle
/// for 120 s), and a cancellation path separate from the consumer's task. A connection per page costs one
/// handshake per page (a TCP round trip and the HMAC exchange, small beside a page of 1 000–10 000 records), and
/// buys exact back-pressure (the bridge has served nothing the consumer did not ask for), cancellation that is
/// simply the consumer's own, and retries that restart one page from the last position delivered.
///
/// A page that fails half-way with a retryable error is read again whole after the backoff, from the position
/// after the last page delivered; nothing of a failed page is ever delivered. After an error is thrown (a
/// non-retryable failure, retries used up, or cancellation), the sequence ends.
public struct BridgePages<Record: Sendable, Position: Sendable & Hashable>: AsyncSequence, Sendable {
    public typealias Element = BridgePage<Record, Position>
    typealias Fetch = @Sendable (inout BridgeConnection, Position?) async throws -> (records: [Record], position: Position?, more: Bool)

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
            let page: (records: [Record], position: Position?, more: Bool)
            do {
                page = try await client.withRetries { connection in try await fetch(&connection, after) }
            } catch {
                finished = true
                throw error
            }
            // An empty page ends the range (it follows a page that was exactly full).
            guard !page.records.isEmpty else {
                finished = true
                return nil
            }
            guard let reached = page.position else {
                finished = true
                throw BridgeClientError(endpoint: client.endpoint.description, retryable: false,
                                        reason: "a page's last record has no readable position (time and ticket); cannot continue after it", protocolError: nil)
            }
            position = reached
            finished = !page.more
            return BridgePage(records: page.records, position: reached, more: page.more)
        }
    }
}
