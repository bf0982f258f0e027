import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncTestSupport
import Synchronization

/// Datasets and retry settings the transport suites share (the harness itself is in MTSyncTestSupport).
extension SimulatorHarness {
    static let mt4Dataset = SimulatedDataset(.init(seed: 11, serverID: "sim-mt4", days: 3, dealsPerDay: 120, logins: 12, platform: .mt4))

    /// Retries quickly, so fault tests take milliseconds.
    static let fastRetries = BridgeClient.RetryPolicy(baseDelay: .milliseconds(1), maximumDelay: .milliseconds(20), maximumAttempts: 50)
}

/// Counts `onRetry` calls from any task.
final class RetryLog: Sendable {
    private let retries = Mutex<[BridgeClient.Retry]>([])
    var count: Int { retries.withLock { $0.count } }
    var codes: [String] { retries.withLock { $0.map { $0.error.protocolError?.code.name ?? "connection" } } }
    var delays: [Duration?] { retries.withLock { $0.map(\.delay) } }
    var transports: [BridgeClientError.Transport?] { retries.withLock { $0.map(\.error.transport) } }
    func record(_ retry: BridgeClient.Retry) { retries.withLock { $0.append(retry) } }
}
