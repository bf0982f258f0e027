import Foundation
import MTSyncTestSupport

/// A real `mtsync run` process, its log kept in a file so a failing test can show what the daemon said.
/// Call `stop()` in a `defer`: a daemon left behind would keep syncing into the next test's run.
struct DaemonProcess {
    let process: Process
    let exit: ProcessExit
    let log: URL

    init(config: URL, environment: [String: String], arguments: [String] = []) throws {
        log = config.deletingLastPathComponent().appending(path: "daemon-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = try CLI.binary()
        process.arguments = ["run", "--config", config.path] + arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "MTSYNC_DATABASE_URL")
        process.environment = env.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: log)
        exit = try process.runWatched()
        self.process = process
    }

    var isRunning: Bool { !exit.hasExited }
    var pid: Int32 { process.processIdentifier }

    /// SIGKILL: no clean-up, no lease released, the page in flight abandoned mid-transaction.
    func kill9() async {
        guard isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        await exit.wait()
    }

    /// SIGTERM and wait: the clean shutdown. Returns the exit status (nil when it died of a signal).
    @discardableResult
    func terminate() async -> Int32? {
        if isRunning { process.terminate() }
        let status = await exit.wait()
        return status >= 128 ? nil : status
    }

    /// Whatever happens, the process is gone afterwards.
    func stop() {
        guard isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while isRunning && Date() < deadline { usleep(50_000) }
        // Synchronous (it runs from `defer`); a daemon still up after SIGTERM gets SIGKILL.
        if isRunning { kill(process.processIdentifier, SIGKILL) }
        exit.wait()
    }

    /// Everything the daemon logged so far.
    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// The last lines the daemon logged, for failure messages.
    func logTail(lines: Int = 20) -> String {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}
