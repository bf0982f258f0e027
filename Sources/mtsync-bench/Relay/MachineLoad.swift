import Foundation

/// Who used the machine's CPUs during a run, from /proc: this process, the PostgreSQL cluster serving the relay
/// (its postmaster and every child, including backends and autovacuum workers that exit mid-run, whose time the
/// postmaster inherits), and everything else — on a shared 2-core machine "everything else" is other people's
/// work, and a figure without it cannot be compared with another run's. Linux only; nil elsewhere.
struct MachineLoad: Sendable {
    /// Cumulative clock ticks at one instant.
    struct Snapshot: Sendable {
        var cores: Int
        var busy: Int64
        var total: Int64
        var bench: Int64
        var postgres: Int64
    }

    /// Cores' worth of CPU over an interval (2.0 = both cores of a 2-core machine all the time).
    struct Usage: Sendable {
        var cores: Int
        var bench: Double
        var postgres: Double
        var other: Double
        var idle: Double

        var summary: String {
            String(format: "bench %.2f, PostgreSQL %.2f, other work %.2f, idle %.2f of %d cores", bench, postgres, other, idle, cores)
        }
    }

    /// The postmaster of the cluster, found as the parent of one of its backends.
    let postmasterPID: Int32?

    init(backendPID: Int32) {
        postmasterPID = Self.fields(of: "/proc/\(backendPID)/stat").flatMap { Int32($0[1]) }
    }

    func snapshot() -> Snapshot? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let cpu = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        else { return nil }
        // The online CPUs the aggregate line sums over (a container may see fewer than the host has).
        let cores = stat.split(separator: "\n").count { $0.hasPrefix("cpu") && !$0.hasPrefix("cpu ") }
        // user nice system idle iowait irq softirq steal (guest is inside user); iowait counts as idle.
        let ticks = cpu.split(separator: " ").dropFirst().prefix(8).compactMap { Int64($0) }
        guard ticks.count == 8 else { return nil }
        let idle = ticks[3] + ticks[4]
        let busy = ticks.reduce(0, +) - idle
        return Snapshot(cores: max(cores, 1), busy: busy, total: busy + idle, bench: Self.ownTicks("/proc/self/stat") ?? 0, postgres: postgresTicks())
    }

    func usage(from start: Snapshot, to end: Snapshot) -> Usage {
        let cores = end.cores
        let elapsed = Double(max(end.total - start.total, 1)) / Double(cores)
        let bench = Double(end.bench - start.bench) / elapsed
        let postgres = Double(end.postgres - start.postgres) / elapsed
        let busy = Double(end.busy - start.busy) / elapsed
        return Usage(cores: cores, bench: bench, postgres: postgres, other: max(busy - bench - postgres, 0), idle: Double(cores) - busy)
    }

    /// The postmaster's own and reaped children's time plus its live children's.
    private func postgresTicks() -> Int64 {
        guard let postmasterPID, let postmaster = Self.fields(of: "/proc/\(postmasterPID)/stat") else { return 0 }
        var ticks = Self.sum(postmaster, 11...14)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries where entry.first?.isNumber == true {
            guard let fields = Self.fields(of: "/proc/\(entry)/stat"), Int32(fields[1]) == postmasterPID else { continue }
            ticks += Self.sum(fields, 11...12)
        }
        return ticks
    }

    private static func ownTicks(_ path: String) -> Int64? {
        fields(of: path).map { sum($0, 11...12) }
    }

    /// The fields after `(comm)` of a /proc stat file: [0] state, [1] ppid, … [11] utime, [12] stime,
    /// [13] cutime, [14] cstime (proc(5) numbers them 3… ; comm may hold spaces, hence the last parenthesis).
    private static func fields(of path: String) -> [Substring]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 14 ? fields : nil
    }

    private static func sum(_ fields: [Substring], _ range: ClosedRange<Int>) -> Int64 {
        range.reduce(0) { $0 + (Int64(fields[$1]) ?? 0) }
    }
}
