import ServiceLifecycle

/// The loop the daemon's periodic services share (aggregates, the daily feed, accounts, the database gauges):
/// a round, then a pause of `every`, until graceful shutdown. A failed round is reported to `onFailure` and the
/// next one comes after the same pause: whatever it left undone is still marked in the database.
enum PeriodicRounds {
    static func run(every: Duration, onFailure: @escaping @Sendable (any Error) -> Void, _ round: @escaping @Sendable () async throws -> Void) async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await round()
                } catch {
                    if Task.isCancelled { break }
                    onFailure(error)
                }
                do { try await Task.sleep(for: every) } catch { break }
            }
        }
    }
}
