import NIOCore

/// One authenticated connection shared by the requests of a sync round (`BridgeClient.withSession`).
///
/// `BridgeConnection` is `~Copyable` and lives only inside `BridgeConnection.withConnection`, so the connection is
/// held by one child task of the session's task group, which serves the requests sent to it one at a time (the
/// protocol's rule: one request at a time per connection). It connects at the first request, and again only after a
/// request failed (its caller retries, and the retry finds a fresh connection); while no request comes it pings
/// every 30 s (§3), so a slow page store does not let the bridge close an idle connection. Everything ends with
/// the session's scope: no task outlives it.
final class BridgeSession: Sendable {
    struct Request: Sendable {
        /// Runs the caller's operation and answers it; false when the connection should not be used again.
        let run: @Sendable (inout BridgeConnection) async -> Bool
        /// Answers the caller when the connection could not even be made.
        let fail: @Sendable (any Error) -> Void
    }

    enum Message: Sendable {
        case request(Request)
        /// A keep-alive tick: ping when the connection has been idle for the interval.
        case keepAlive
    }

    static let keepAliveInterval = Duration.seconds(30)

    private let requests: AsyncStream<Message>.Continuation

    private init(requests: AsyncStream<Message>.Continuation) {
        self.requests = requests
    }

    /// Runs `body` on the session's connection, waiting for its turn.
    func perform<Result: Sendable>(_ body: @escaping @Sendable (inout BridgeConnection) async throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { (reply: CheckedContinuation<Result, any Error>) in
            let request = Request(
                run: { connection in
                    do {
                        reply.resume(returning: try await body(&connection))
                        return true
                    } catch {
                        reply.resume(throwing: error)
                        return false
                    }
                },
                fail: { reply.resume(throwing: $0) })
            if case .terminated = requests.yield(.request(request)) { reply.resume(throwing: CancellationError()) }
        }
    }

    /// A session for `body`'s requests to `endpoint`, closed when `body` returns or throws.
    static func run<Result: Sendable>(endpoint: BridgeEndpoint, group: any EventLoopGroup, _ body: (BridgeSession) async throws -> Result) async throws -> Result {
        let (stream, continuation) = AsyncStream.makeStream(of: Message.self)
        let session = BridgeSession(requests: continuation)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await serve(stream, endpoint: endpoint, group: group) }
            tasks.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: keepAliveInterval)
                    continuation.yield(.keepAlive)
                }
            }
            let result: Result
            do {
                result = try await body(session)
            } catch {
                continuation.finish()
                tasks.cancelAll()
                throw error
            }
            continuation.finish()
            tasks.cancelAll()
            return result
        }
    }

    private static func serve(_ stream: AsyncStream<Message>, endpoint: BridgeEndpoint, group: any EventLoopGroup) async {
        var messages = stream.makeAsyncIterator()
        while let message = await messages.next() {
            // A keep-alive with no connection open has nothing to keep alive.
            guard case .request(let first) = message else { continue }
            // The request the connection is being opened for, until it runs: it gets the failure if opening fails.
            var waiting: Request? = first
            do {
                try await BridgeConnection.withConnection(to: endpoint, on: group) { connection in
                    var next: Request? = first
                    while let request = next {
                        waiting = nil
                        guard await request.run(&connection) else { return }
                        next = nil
                        while next == nil {
                            guard let message = await messages.next() else { return }
                            switch message {
                            case .request(let request):
                                next = request
                            case .keepAlive:
                                if ContinuousClock.now - connection.lastActivity >= keepAliveInterval { try await connection.ping() }
                            }
                        }
                    }
                }
            } catch {
                // Opening failed (the waiting request is told, and its caller retries), or a ping did (the connection is
                // simply gone; the next request opens another).
                waiting?.fail(error)
            }
        }
    }
}
