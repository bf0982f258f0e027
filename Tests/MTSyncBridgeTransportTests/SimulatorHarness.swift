import MTBridgeSimulator
import MTSyncBridge
import MTSyncBridgeTransport
import MTSyncCore
import Synchronization

/// Runs a given simulator (so a test can read its statistics or move its generation) on a free loopback port
/// for the duration of `body`.
enum SimulatorHarness {
    static func run<Result: Sendable>(_ simulator: BridgeSimulator, _ body: @Sendable (Int) async throws -> Result) async throws -> Result {
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

    static let mt4Dataset = SimulatedDataset(.init(seed: 11, serverID: "sim-mt4", days: 3, dealsPerDay: 120, logins: 12, platform: .mt4))

    /// Retries quickly, so fault tests take milliseconds.
    static let fastRetries = BridgeClient.RetryPolicy(baseDelay: .milliseconds(1), maximumDelay: .milliseconds(20), maximumAttempts: 50)
}

/// Counts `onRetry` calls from any task.
final class RetryLog: Sendable {
    private let retries = Mutex<[BridgeClient.Retry]>([])
    var count: Int { retries.withLock { $0.count } }
    var codes: [String] { retries.withLock { $0.map { $0.error.protocolError?.code.name ?? "connection" } } }
    func record(_ retry: BridgeClient.Retry) { retries.withLock { $0.append(retry) } }
}
