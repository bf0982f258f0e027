import Dispatch
import Foundation

/// A child process's exit, without trusting Foundation alone to notice it.
///
/// On Linux, Foundation learns of a child's exit from a SIGCHLD handler; in the full suite it sometimes never
/// does (seen here: a `bash` child a zombie for 16 minutes, Foundation's monitor thread idle, `waitUntilExit`
/// spinning at 100 % CPU or a `terminationHandler` never called). So the exit is taken from whichever comes first:
/// the termination handler, or this object reaping the child itself with `waitpid(WNOHANG)`, polled. The status
/// is kept here; read it from `status`, never from `Process.terminationStatus` (which traps when Foundation did
/// not see the exit).
public final class ProcessExit: @unchecked Sendable {
    private let process: Process
    private let lock = NSLock()
    private var code: Int32?

    fileprivate init(_ process: Process) {
        self.process = process
        process.terminationHandler = { [self] process in
            let status = process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
            lock.withLock { if code == nil { code = status } }
        }
    }

    /// The exit status (128 + the signal for a process killed by one), once it has exited.
    public var status: Int32? {
        if let known = lock.withLock({ code }) { return known }
        var raw: Int32 = 0
        let reaped = waitpid(process.processIdentifier, &raw, WNOHANG)
        guard reaped == process.processIdentifier else { return nil }  // running, or Foundation reaped it: its handler will say
        let low = raw & 0x7f
        let status = low == 0 ? (raw >> 8) & 0xff : 128 + low
        return lock.withLock {
            if code == nil { code = status }
            return code
        }
    }

    public var hasExited: Bool { status != nil }

    /// Blocks until the process has exited. For short waits only: it holds its thread.
    @discardableResult
    public func wait() -> Int32 {
        while true {
            if let status { return status }
            usleep(10_000)
        }
    }

    /// Waits without holding a thread of Swift's cooperative pool.
    @discardableResult
    public func wait() async -> Int32 {
        while true {
            if let status { return status }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

extension Process {
    /// Runs the process with its exit watched (see `ProcessExit`).
    public func runWatched() throws -> ProcessExit {
        let exit = ProcessExit(self)
        try run()
        return exit
    }
}
