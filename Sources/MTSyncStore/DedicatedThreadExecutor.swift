import Foundation

/// A serial executor that runs every job on one thread of its own.
///
/// libpq's calls block (network round trips, COPY, server-side work). Swift's cooperative pool has one thread
/// per core — two on our CI machine — so a single blocking `PQexec` there would stall every other task in the
/// process. Each `PostgresConnection` actor therefore uses one of these as its executor: all of its isolated
/// code, and with it every libpq call on that connection, runs on the connection's dedicated thread, while
/// callers simply `await` the actor as usual and their threads stay free.
final class DedicatedThreadExecutor: SerialExecutor, @unchecked Sendable {
    // @unchecked: `pending` and `isShutDown` are only touched while holding `condition`.
    private let condition = NSCondition()
    private var pending: [UnownedJob] = []
    private var isShutDown = false

    init(name: String) {
        let thread = Thread { [self] in self.runJobs() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        pending.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Lets the thread finish the jobs already queued, then exit. Called only from the owning actor's `deinit`,
    /// when no reference remains through which another job could be enqueued.
    func shutdown() {
        condition.lock()
        isShutDown = true
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        var batch: [UnownedJob] = []
        while true {
            condition.lock()
            while pending.isEmpty && !isShutDown { condition.wait() }
            if pending.isEmpty && isShutDown {
                condition.unlock()
                return
            }
            swap(&batch, &pending)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedSerialExecutor()) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
