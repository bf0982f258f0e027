import Foundation
import Logging
import MTSyncBridge
import MTSyncCore
import MTSyncStore

// The reference data a pull keeps fresh: accounts, symbols, daily records, and the decisions held for them.
extension ServerSync {
    /// What a pull does first, for the bounded jobs (backfill): the accounts and symbols when they are due, so the
    /// range's facts are decided from accounts as fresh as the live sync's.
    public func refreshReferenceData() async throws -> AccountSync.Report? {
        try await client.withSession { client in
            let sync = self.with(client)
            let capabilities = try await client.capabilities()
            return try await sync.refreshReferenceData(capabilities: capabilities)
        }
    }

    /// The end-of-day records of the server days starting in `[from, to)` (bridges with `daily`; nil otherwise), for
    /// the tier snapshots: a backfill's range, or a repairing reconcile's.
    public func readDaily(fromMilliseconds from: Int64, toMilliseconds to: Int64) async throws -> DailySync.Report? {
        try await client.withSession { client in
            let capabilities = try await client.capabilities()
            guard capabilities.contains("daily") else { return nil }
            return try await DailySync(client: client, connection: connection, serverID: serverID, zone: batcher.normalizer.settings.zone, startMilliseconds: 0)
                .read(fromMilliseconds: from, toMilliseconds: to)
        }
    }

    /// What a pull does last: held records whose account arrived are decided, and stored facts a new account
    /// version decides differently are sent or retracted.
    public func catchUpDecisions() async throws -> DecisionCatchUp.Report {
        try await DecisionCatchUp(batcher: try await currentBatcher(), connection: connection, platform: platform).run()
    }

    /// Logs a warning when records have waited for their account longer than `pendingWarnAfter`: the bridge does not
    /// send those accounts (or not with a group), and nothing of those logins reaches the platform meanwhile.
    func warnAboutOldPending() async throws {
        let summary = try await PendingRecords.summary(server: serverID.rawValue, on: connection)
        guard let oldest = summary.oldestSeconds, oldest > settings.pendingWarnAfter.fractionalSeconds else { return }
        logger.warning("records wait for their account longer than pending_warn_after", metadata: [
            "records": "\(summary.records)", "logins": "\(summary.logins)", "account_unknown": "\(summary.accountUnknown)",
            "group_unknown": "\(summary.groupUnknown)", "oldest_seconds": "\(Int(oldest))",
            "hint": "the bridge has not sent these accounts (or sent them without a group); mtsync status lists them; mtsync accounts sync reads them now",
        ])
    }

    /// Reads the accounts when they are due — every `accountsEvery`, or every `pendingAccountsEvery` while records
    /// wait for theirs — and the symbols every `symbolsEvery`, when the bridge serves them.
    func refreshReferenceData(capabilities: [String], serverNowMilliseconds serverNow: Int64? = nil) async throws -> AccountSync.Report? {
        let server = serverID.rawValue
        let (lastRead, holdsPending) = try await StreamRefresh.state(server: server, on: connection)
        let now = Date()
        func due(_ stream: SyncStream, every: Duration) -> Bool {
            guard let last = lastRead[stream] else { return true }
            return now.timeIntervalSince(last) >= every.fractionalSeconds
        }
        if capabilities.contains("symbols"), due(.symbols, every: settings.symbolsEvery) {
            try await refreshSymbols()
        }
        var report: AccountSync.Report?
        if capabilities.contains("accounts"),
           due(.accounts, every: settings.accountsEvery) || (holdsPending && due(.accounts, every: settings.pendingAccountsEvery)) {
            let accounts = try await AccountSync(client: client, connection: connection, batcher: try await currentBatcher(), pageSize: 1_000).pull()
            logger.info("accounts synced", metadata: [
                "accounts": "\(accounts.accounts)", "changed": "\(accounts.changed)", "without_customer_id": "\(accounts.withoutCustomerID)",
                "quarantined": "\(accounts.quarantined)", "released": "\(accounts.released)", "still_pending": "\(accounts.stillPending)",
            ])
            report = accounts
        }
        // The daily records after the accounts: a record of a login whose account is not known is quarantined.
        if capabilities.contains("daily"), due(.daily, every: settings.dailyEvery), let serverNow {
            let daily = try await DailySync(
                client: client, connection: connection, serverID: serverID, zone: batcher.normalizer.settings.zone, startMilliseconds: settings.startMilliseconds
            ).pull(serverNowMilliseconds: serverNow)
            logger.info("daily records synced", metadata: ["records": "\(daily.records)", "quarantined": "\(daily.quarantined)"])
        }
        return report
    }

    /// Reads the bridge's symbols (§4.5) into the store: each validated, a bad one quarantined.
    public func refreshSymbols() async throws {
        let server = serverID.rawValue
        let raw = try await client.symbols()
        var symbols: [ServerSymbol] = [], quarantine: [QuarantineEntry] = []
        for data in raw {
            let record = RawSymbolRecord(object: data)
            switch record.normalized() {
            case .success(let symbol): symbols.append(symbol)
            case .failure(let rejection):
                quarantine.append(QuarantineEntry(
                    serverID: server, stream: SyncStream.symbols.rawValue, source: "tcp", lineNumber: nil, reasonCode: rejection.code,
                    reason: rejection.description, raw: RecordBatcher.rawBytes(of: record)))
            }
        }
        try await connection.transaction(name: "store symbols") { [symbols, quarantine] connection in
            for entry in quarantine { try entry.insert(on: connection) }
            try ServerSymbols.store(server: server, symbols: symbols, source: "tcp", on: connection)
        }
        try await StreamRefresh.record(server: server, stream: .symbols, records: symbols.count, on: connection)
        self.symbols.invalidate()
    }
}
