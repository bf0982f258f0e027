import Foundation

/// This process's peak resident set (`VmHWM` in /proc/self/status), per run: the kernel resets the peak to the
/// current RSS when "5" is written to /proc/self/clear_refs (Linux ≥ 4.0), so each run's figure is its own and
/// not the high-water mark of an earlier run in the same process.
enum PeakMemory {
    /// MiB, or nil where /proc is not there (macOS).
    static func peakMiB() -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kilobytes / 1024
    }

    /// Starts a new high-water mark at the current RSS; false when the kernel would not.
    @discardableResult
    static func resetPeak() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        return (try? handle.write(contentsOf: Data("5".utf8))) != nil
    }
}
