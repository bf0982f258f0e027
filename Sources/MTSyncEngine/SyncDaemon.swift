import Logging
import MTSyncBridge
import MTSyncCore
import MTSyncStore
import ServiceLifecycle

/// One server the daemon keeps in sync.
public struct SyncJob: Sendable {
    public var serverID: ServerID
    /// The stream whose cursor a failed pull's error is recorded on (`deals` for MT5, `trades` for MT4).
    public var stream: SyncStream
    public var pollInterval: Duration
    /// Each wait is `pollInterval` ± this fraction, so servers (and instances) do not poll in lockstep.
    public var jitter: Double
    /// One incremental pull (bridge or drop folder).
    public var pull: @Sendable () async throws -> SyncReport
    /// The safety net after the pulls, nil for sources without digests (drop folders) or when configured off.
    public var trailingReconcile: TrailingReconcile?

    public init(
        serverID: ServerID, stream: SyncStream = .deals, pollInterval: Duration, jitter: Double = 0.1,
        trailingReconcile: TrailingReconcile? = nil, pull: @escaping @Sendable () async throws -> SyncReport
    ) {
        self.serverID = serverID
        self.stream = stream
        self.pollInterval = pollInterval
        self.jitter = jitter
        self.trailingReconcile = trailingReconcile
        self.pull = pull
    }
}

/// A reconcile with repair over the last `window`, run by the daemon when none succeeded in the last `every`
/// (`ReconcileRun.isDue`, kept in PostgreSQL: a restart or another instance does not run it again early).
public struct TrailingReconcile: Sendable {
    public var every: Duration
    /// Reconciles and repairs, recording the run; nil when the same reconcile is running elsewhere.
    public var run: @Sendable () async throws -> ServerSync.ReconcileReport?

    public init(every: Duration, run: @escaping @Sendable () async throws -> ServerSync.ReconcileReport?) {
        self.every = every
        self.run = run
    }
}

/// `mtsync run`: every server on its own loop, so one slow or failing server never stalls another.
///
/// **High availability.** Before each poll an instance takes (or renews) the server's lease in PostgreSQL
/// (`ServerLease`); only the holder pulls. A lease lives `leaseTTL`; the holder renews it every third of that
/// while a pull runs. If an instance dies, its leases expire and another instance takes each server at its next
/// poll: takeover within `leaseTTL + pollInterval`. Even two writers at once could not double anything (the
/// store merges by identity), the lease just keeps them from doing the same work twice.
///
/// **Trailing reconcile**: after a successful pull, a job with `trailingReconcile` reconciles (with repair) when
/// one is due, under the same lease.
/// **Lease lost** (taken over, or fenced by an operator's `mtsync cursor set`): not an error; the loop tries to
/// acquire it again within a second.
/// **Errors** back off exponentially per server (the poll interval doubling up to 5 minutes); a success resets.
/// **Shutdown** (SIGTERM, SIGINT through `ServiceGroup`): the loops are cancelled; a page being stored commits
/// or rolls back whole (its transaction is not interrupted), leases are released, and the process exits 0.
public struct SyncDaemon: Service {
    public let jobs: [SyncJob]
    /// This process, as the leases name it (its instance id is the leases' owner).
    public let holder: LeaseHolder
    public var owner: String { holder.instanceID }
    public let leaseTTL: Duration
    /// Used for leases and error bookkeeping only; each job has its own connection for its pages.
    public let connection: PostgresConnection
    public let logger: Logger
    /// Where each server's lease stands for this instance, for `/readyz`.
    public let leases: LeaseBoard

    public init(jobs: [SyncJob], holder: LeaseHolder, leaseTTL: Duration, connection: PostgresConnection, logger: Logger, leases: LeaseBoard? = nil) {
        self.jobs = jobs
        self.holder = holder
        self.leaseTTL = leaseTTL
        self.connection = connection
        self.logger = logger
        self.leases = leases ?? LeaseBoard(servers: jobs.map(\.serverID.rawValue))
    }

    /// A daemon whose process is `owner` with a fresh token (tests; `mtsync run` passes the holder of its
    /// `InstanceClaim`).
    public init(jobs: [SyncJob], owner: String, leaseTTL: Duration, connection: PostgresConnection, logger: Logger, leases: LeaseBoard? = nil) {
        self.init(jobs: jobs, holder: .thisProcess(instanceID: owner), leaseTTL: leaseTTL, connection: connection, logger: logger, leases: leases)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for job in jobs {
                    group.addTask { await loop(job) }
                }
            }
        }
    }

    func loop(_ job: SyncJob) async {
        var logger = self.logger
        logger[metadataKey: "server"] = "\(job.serverID)"
        var failures = 0
        var lease: ServerLease?
        var generator = SystemRandomNumberGenerator()
        while !Task.isCancelled {
            var wait = Self.jittered(job.pollInterval, by: job.jitter, using: &generator)
            let server = job.serverID.rawValue
            var leaseKnown = false
            do {
                let acquisition = try await ServerLease.take(serverID: server, holder: holder, ttl: leaseTTL, on: connection)
                lease = acquisition.lease
                leaseKnown = true
                leases.record(server, acquisition)
                SyncMetric.leaseHeld.set(lease == nil ? 0 : 1, server)
                if let held = lease {
                    let started = ContinuousClock.now
                    // Every page of the pull is fenced by this tenure, renewed while it runs.
                    let report = try await ServerLease.holding(held, ttl: leaseTTL, renewingOn: connection) { try await job.pull() }
                    SyncMetric.syncRuns.increment(server, "ok")
                    logger.info("synced", metadata: [
                        "pages": "\(report.pages)", "records": "\(report.records)", "inserted": "\(report.outcome.inserted)",
                        "updated": "\(report.outcome.updated)", "deleted": "\(report.outcome.deleted)",
                        "quarantined": "\(report.outcome.quarantined)", "changes": "\(report.changes)",
                        "cursor": "\(report.cursor.map(\.description) ?? "-")", "duration": "\(ContinuousClock.now - started)",
                    ])
                    if let reconcile = job.trailingReconcile,
                       try await ReconcileRun.isDue(serverID: job.serverID, every: reconcile.every, on: connection) {
                        let started = ContinuousClock.now
                        if let report = try await ServerLease.holding(held, ttl: leaseTTL, renewingOn: connection, { try await reconcile.run() }) {
                            logger.info("reconciled", metadata: [
                                "buckets": "\(report.buckets)", "differing": "\(report.differing.count)", "inserted": "\(report.inserted)",
                                "updated": "\(report.updated)", "deleted": "\(report.deleted)", "duration": "\(ContinuousClock.now - started)",
                            ])
                        }
                    }
                } else {
                    logger.debug("another instance holds this server's lease")
                }
                failures = 0
            } catch is CancellationError {
                break
            } catch {
                if Task.isCancelled { break }
                if !leaseKnown {
                    // The lease could not even be asked for (the database is away): this instance is not doing its job.
                    leases.record(server, .failed(String(describing: error)))
                    SyncMetric.leaseHeld.set(0, server)
                }
                if let loss = error as? StoreRefusal, loss.code == .lost {
                    SyncMetric.syncRuns.increment(server, "lease_lost")
                    SyncMetric.leaseHeld.set(0, server)
                    leases.record(server, .waiting)
                    // Not a failure of the server: another instance took it over while this one stalled, or an
                    // operator moved a cursor (which fences the holder). Try to take it again soon; the page in
                    // flight was refused or rolled back, so the next pull re-reads the cursor.
                    lease = nil
                    wait = min(wait, .seconds(1))
                    logger.notice("lease lost; acquiring it again", metadata: ["reason": "\(loss.message)"])
                } else {
                    failures += 1
                    if leaseKnown { SyncMetric.syncRuns.increment(server, "failed") }
                    // (A bridge's failed attempts were each counted in mtsync_bridge_errors_total as they happened.)
                    wait = Self.backoff(after: failures, base: job.pollInterval)
                    logger.error("sync failed; retrying", metadata: ["error": "\(error)", "attempt": "\(failures)", "retry_in": "\(wait)"])
                    try? await FactStore.recordError(serverID: job.serverID, stream: job.stream, message: String(describing: error), on: connection)
                    if let bridge = error as? BridgeClientError, bridge.kind == .timeout, let held = lease {
                        // A bridge that stays stuck past its deadlines: hand the server over, so that an instance
                        // with a better path to the bridge may take it; this one competes for it again at its next poll.
                        _ = try? await ServerLease.release(held, on: connection)
                        lease = nil
                        leases.record(server, .waiting)
                        SyncMetric.leaseHeld.set(0, server)
                        logger.notice("lease released: the bridge stays stuck past its deadlines", metadata: ["error": "\(bridge.reason)"])
                    }
                }
            }
            do {
                try await Task.sleep(for: wait)
            } catch {
                break
            }
        }
        if let held = lease {
            // Hand the server over at once instead of making the next instance wait for the expiry.
            _ = try? await ServerLease.release(held, on: connection)
            SyncMetric.leaseHeld.set(0, job.serverID.rawValue)
        }
        logger.info("stopped")
    }

    static func jittered(_ interval: Duration, by fraction: Double, using generator: inout some RandomNumberGenerator) -> Duration {
        guard fraction > 0 else { return interval }
        return interval * Double.random(in: (1 - fraction)...(1 + fraction), using: &generator)
    }

    /// The poll interval doubled per consecutive failure, at most 5 minutes.
    static func backoff(after failures: Int, base: Duration) -> Duration {
        ExponentialBackoff(first: base * 2, maximum: .seconds(300), maximumDoublings: 9).ceiling(afterFailure: failures)
    }
}
