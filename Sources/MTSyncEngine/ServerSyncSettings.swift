import Foundation
import MTSyncCore
import MTSyncStore

/// How one trade server is synced from its bridge. The configuration file's server sections decode into it; its
/// defaults are the file's.
public struct ServerSyncSettings: Sendable, Equatable {
    /// Server time (ms) where the history starts mattering: the first incremental pull starts here.
    public var startMilliseconds: Int64
    /// Re-read before the cursor on every incremental pull, so deals posted late with an older time are caught.
    public var lookback: Duration
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
