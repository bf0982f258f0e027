import MTBridgeSimulator

/// Runs a reference bridge on a free loopback port for the duration of `body`, then stops it: every test that
/// talks to a bridge talks to a real one over real TCP.
public enum SimulatorHarness {
    public static func run<Result: Sendable>(_ simulator: BridgeSimulator, _ body: @Sendable (Int) async throws -> Result) async throws -> Result {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        return try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask {
                try await simulator.run(onListening: { continuation.yield($0) })
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            let result = try await body(port)
            group.cancelAll()
            return result
        }
    }
}
