import Foundation
import MTSyncCore
import MTSyncStore
import Synchronization

/// How one trade server is synced from its bridge. The configuration file's server sections decode into it; its
/// defaults are the file's.
public struct ServerSyncSettings: Sendable, Equatable {
    /// Server time (ms) where the history starts mattering: the first incremental pull starts here.
    public var startMilliseconds: Int64
    /// How far an incremental pull re-reads before the cursor when it reaches back in full (`lookbackEvery`), so
    /// deals posted late with an older time are caught.
    public var lookback: Duration
    /// How long the pulls take to re-read the whole `lookback` window between them (`ReachBackSchedule`: each pull
    /// a slice; the first pull of a process all of it); every pull re-reads `shortLookback` before the cursor. Zero:
    /// every pull re-reads all of it. Re-reading two hours of a busy server on every poll kept the poll, and so every
    /// new deal, waiting behind tens of thousands of unchanged records.
    public var lookbackEvery: Duration = .seconds(60)
    public var pageSize: Int
    /// How often a pull reads the bridge's accounts whole (bridges with `accounts`).
    public var accountsEvery: Duration
    /// While records wait for their accounts, the accounts are read again this often (at most), so a new account's
    /// deals are decided within about this long.
    public var pendingAccountsEvery: Duration
    /// How often a pull reads the bridge's symbols (bridges with `symbols`).
    public var symbolsEvery: Duration
    /// Records waiting for their account longer than this are logged as a warning after each pull.
    public var pendingWarnAfter: Duration
    /// How often a pull reads the bridge's end-of-day records (bridges with `daily`), from a week before the last
    /// day read: the server recomputes recent days after late deals.
    public var dailyEvery: Duration = .seconds(3_600)
    /// When the bridge says `changes_expired` (its journal lost events: a restart, a reconnect, retention), the
    /// window reconciled with repair before following its changes again from the start of its journal.
    public var changesRecoveryWindow: Duration = .seconds(3 * 86_400)

    public init(
        startMilliseconds: Int64, lookback: Duration = .seconds(7_200), pageSize: Int = 5_000, accountsEvery: Duration = .seconds(900),
        pendingAccountsEvery: Duration = .seconds(60), symbolsEvery: Duration = .seconds(3_600), pendingWarnAfter: Duration = .seconds(3_600)
    ) {
        self.pendingWarnAfter = pendingWarnAfter
        self.startMilliseconds = startMilliseconds
        self.lookback = lookback
        self.pageSize = pageSize
        self.accountsEvery = accountsEvery
        self.pendingAccountsEvery = pendingAccountsEvery
        self.symbolsEvery = symbolsEvery
    }

    var lookbackMilliseconds: Int64 { lookback.wholeMilliseconds }

    /// What every pull re-reads before the cursor: a minute (or `lookback`, when shorter), so a deal stamped a
    /// little before the last one read still comes with the next poll.
    static let shortLookback: Duration = .seconds(60)
    var shortLookbackMilliseconds: Int64 { Swift.min(lookbackMilliseconds, Self.shortLookback.wholeMilliseconds) }
}

/// What a pull did.
public struct SyncReport: Sendable, Hashable {
    public var pages = 0
    public var records = 0
    public var changes = 0
    /// MT4 open trades read (the `trades` request's `open` set).
    public var openTrades = 0
    public var outcome = PageOutcome()
    /// The accounts read in this pull, when they were due.
    public var accounts: AccountSync.Report?
    /// Held records decided in this pull (their account arrived), and those still held.
    public var released = 0
    public var stillPending = 0
    /// Where the live cursor stood after the pull.
    public var cursor: CursorPosition?

    public init() {}
}

/// Where a server's rolling re-read of its lookback window stands, shared by the copies of its `ServerSync` value
/// (the daemon keeps one per server; a one-shot command's first pull re-reads the whole window).
///
/// Each pull re-reads a slice of the window `[cursor - lookback, cursor - a minute)`, in proportion to the time
/// since the previous pull (`lookbackEvery` to sweep it all), going on where the last slice ended and starting over
/// at the window's start once it reached the end: every late deal is found within about `lookbackEvery`, and a
/// poll never waits behind hours of unchanged deals.
final class ReachBackSchedule: Sendable {
    private struct Sweep {
        var position: Int64
        var at: ContinuousClock.Instant
    }

    private let sweep = Mutex<Sweep?>(nil)

    /// The part of `window` (server milliseconds) a pull starting `now` re-reads: all of it on the first pull, when
    /// `every` is zero or when `every` has passed since the previous pull.
    func slice(of window: Range<Int64>, every: Duration, at now: ContinuousClock.Instant) -> Range<Int64> {
        guard !window.isEmpty, every > .zero, let last = sweep.withLock({ $0 }) else { return window }
        let share = (now - last.at) / every
        guard share < 1 else { return window }
        var start = Swift.max(last.position, window.lowerBound)
        if start >= window.upperBound { start = window.lowerBound }
        let length = Swift.max(1, Int64((Double(window.count) * share).rounded(.up)))
        return start..<(start.saturatingAdding(length) < window.upperBound ? start + length : window.upperBound)
    }

    /// A pull that started `now` re-read up to `end`.
    func done(upTo end: Int64, at now: ContinuousClock.Instant) { sweep.withLock { $0 = Sweep(position: end, at: now) } }
}
