import MTSyncStore

extension ServerLease {
    /// Runs `body` under `lease`: every page it stores is fenced by this tenure (`ServerLease.fence`), and the
    /// lease is renewed every third of `ttl` while it runs. A renewal that fails (taken over, fenced by an
    /// operator, database gone) cancels `body` and throws; the caller decides what a lost lease means.
    ///
    /// Used by the daemon around each pull and reconcile, and by `mtsync sync`, whose single pull may well outlive
    /// one lease term.
    public static func holding<Result: Sendable>(
        _ lease: ServerLease, ttl: Duration, renewingOn connection: PostgresConnection, _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask { try await ServerLease.$fence.withValue(lease) { try await body() } }
            group.addTask {
                var current = lease
                while true {
                    try await Task.sleep(for: ttl / 3)
                    current = try await ServerLease.renew(current, ttl: ttl, on: connection)
                }
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw CancellationError()
        }
    }
}
