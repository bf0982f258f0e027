import Foundation

/// The second throwaway PostgreSQL cluster `scripts/test` starts, the one tests restart to prove mtsync survives
/// a server restart. Every test target runs in one test process, so tests that use it take turns through
/// `exclusively(_:)`: a restart by one test would otherwise land in the middle of another's (the connection test
/// expects exactly one lost connection, and a daemon test counts its own restarts).
public struct RestartableCluster: Sendable {
    /// Superuser URL of the cluster (for `TestDatabase.create(clusterURL:)`).
    public let url: String
    let folder: String
    let script: String

    /// Runs `body` with the cluster, no other test using it meanwhile. Throws `MissingTestComponent` when
    /// `scripts/test` did not start the cluster.
    public static func exclusively<Result: Sendable>(_ body: @Sendable (RestartableCluster) async throws -> Result) async throws -> Result {
        let cluster = RestartableCluster(
            url: try TestEnvironment.require("MTSYNC_TEST_RESTARTABLE_DATABASE_URL"),
            folder: try TestEnvironment.require("MTSYNC_TEST_RESTARTABLE_CLUSTER"),
            script: try TestEnvironment.require("MTSYNC_TEST_PG_CLUSTER_SCRIPT"))
        await turns.begin()
        do {
            let result = try await body(cluster)
            await turns.end()
            return result
        } catch {
            await turns.end()
            throw error
        }
    }

    /// A fast restart (`pg_ctl restart -m fast`): every session is terminated, the server is back on the same
    /// port when this returns.
    public func restart() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, "restart", folder]
        // Awaited, not blocked on: a restart takes seconds, and the cooperative pool has only two threads.
        let status = await (try process.runWatched()).wait()
        guard status == 0 else { throw RestartFailed(status: status) }
    }

    public struct RestartFailed: Error, CustomStringConvertible {
        public let status: Int32
        public var description: String { "scripts/pg-cluster restart failed with status \(status) (see the cluster's server.log)" }
    }

    private static let turns = Turns()

    /// A first-come, first-served lock that waits without blocking a thread.
    private actor Turns {
        private var busy = false
        private var waiting: [CheckedContinuation<Void, Never>] = []

        func begin() async {
            guard busy else {
                busy = true
                return
            }
            await withCheckedContinuation { waiting.append($0) }
        }

        func end() {
            if waiting.isEmpty {
                busy = false
            } else {
                waiting.removeFirst().resume()
            }
        }
    }
}
