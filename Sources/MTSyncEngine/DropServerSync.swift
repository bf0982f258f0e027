import Logging
import MTSyncBridge
import MTSyncCore
import MTSyncStore
import Synchronization

/// Syncs a server that exports a CSV drop instead of serving the protocol: each pull takes the ready files
/// (`DropFolderIntake`), in the file's one transaction: deals and trades normalized and merged exactly like pages
/// from a bridge (the live cursor moving to the last record the file holds), open trades' open legs, accounts into
/// the account store (with their versions) and symbols into the server's definitions, a bad record of any kind
/// quarantined with its reason. Then the decisions catch up with the accounts the files brought
/// (`DecisionCatchUp`), exactly as after a bridge's accounts stream.
public struct DropServerSync: Sendable {
    public let intake: DropFolderIntake
    public let batcher: RecordBatcher
    public let logger: Logger

    public init(intake: DropFolderIntake, batcher: RecordBatcher, logger: Logger = Logger(label: "mtsync.sync")) {
        self.intake = intake
        self.batcher = batcher
        var logger = logger
        logger[metadataKey: "server"] = "\(batcher.serverID)"
        self.logger = logger
    }

    /// Takes every ready file; `only` limits it to files of those streams (`mtsync accounts sync`: accounts only).
    public func pull(only streams: Set<DropStream>? = nil) async throws -> SyncReport {
        let server = batcher.serverID.rawValue, zone = batcher.normalizer.settings.zone, configured = batcher
        // The batcher with the server's symbols as stored; a symbols file taken in this pull refreshes it for the
        // files after it.
        // A drop has no server clock of its own: mtsync's, in the server's zone, bounds the records' times. A file
        // row stamped 9999 (or Int64.max) is quarantined, its file stored, and the next start finds nothing to crash on.
        let clock = batcher.ownClock()
        let current = Mutex(batcher.with(serverSymbols: try await ServerSymbols.load(server: server, on: intake.connection)).within(clock))
        // What each file's transaction stored, counted only for the files the intake reports stored (committed): a
        // file rolled back and taken again later is counted once.
        let outcomes = Mutex<[String: (outcome: PageOutcome, stream: String, duration: Duration)]>([:])
        let reports = try await intake.takeReadyFiles(only: streams) { records, file, connection in
            let started = ContinuousClock.now
            var outcome = PageOutcome()
            var deals: [MT5DealRecord] = [], trades: [MT4TradeRecord] = [], accounts: [RawAccountRecord] = [], symbols: [RawSymbolRecord] = []
            var daily: [RawDailyRecord] = [], changes: [BridgeChange] = []
            for record in records {
                switch record {
                case .deal(let deal): deals.append(deal)
                case .trade(let trade): trades.append(trade)
                case .account(let account): accounts.append(account)
                case .symbol(let symbol): symbols.append(symbol)
                case .daily(let record): daily.append(record)
                case .change(let change): changes.append(change)
                }
            }
            let source = "csv:\(file.name)"
            if !symbols.isEmpty {
                var valid: [ServerSymbol] = []
                for record in symbols {
                    switch record.normalized() {
                    case .success(let symbol): valid.append(symbol)
                    case .failure(let rejection):
                        outcome.quarantined += try Self.quarantine(record, rejection, server: server, stream: .symbols, source: source, on: connection)
                    }
                }
                try ServerSymbols.store(server: server, symbols: valid, source: source, on: connection)
                let loaded = try ServerSymbols.loadAll(server: server, on: connection)
                current.withLock { $0 = configured.with(serverSymbols: loaded).within(clock) }
            }
            if !accounts.isEmpty {
                let (valid, quarantine) = AccountSync.validate(accounts, server: server, zone: zone, source: source)
                for entry in quarantine where try entry.insert(on: connection) { outcome.quarantined += 1 }
                try AccountDirectory.store(server: server, accounts: valid, changedBy: "drop:\(server)", source: source, on: connection)
            }
            var batcher = current.withLock { $0 }
            batcher.source = source
            // The live cursor moves to the last record the file holds that was not quarantined.
            if !deals.isEmpty {
                var batch = batcher.batch(deals: deals, cursor: nil)
                batch.cursor = RecordBatcher.lastAccepted(batch)
                outcome = outcome + (try FactStore.store(batch, on: connection))
            }
            if !trades.isEmpty {
                if file.stream == .openTrades {
                    outcome = outcome + (try FactStore.store(batcher.batch(openTrades: trades), on: connection))
                } else {
                    var batch = batcher.batch(trades: trades, cursor: nil)
                    batch.cursor = RecordBatcher.lastAccepted(batch)
                    outcome = outcome + (try FactStore.store(batch, on: connection))
                }
            }
            if !daily.isEmpty {
                outcome.quarantined += try DailySync.store(daily, server: server, zone: zone, source: source, on: connection).quarantined
            }
            if !changes.isEmpty {
                // §7.1: a change at or below the highest sequence applied (a file published twice, an older one late)
                // is skipped, never applied again.
                let applied = try FactStore.changeSequence(serverID: batcher.serverID, on: connection)
                let fresh = changes.filter { $0.sequence > applied }
                if !fresh.isEmpty {
                    outcome = outcome + (try FactStore.store(batcher.batch(changes: fresh, platform: batcher.normalizer.settings.platform), on: connection))
                }
            }
            // The sink runs once per batch of the file's records: the file's figures are their sum.
            let duration = ContinuousClock.now - started
            outcomes.withLock { outcomes in
                let before = outcomes[file.name] ?? (PageOutcome(), file.stream.rawValue, .zero)
                outcomes[file.name] = (before.outcome + outcome, before.stream, before.duration + duration)
            }
        }
        var report = SyncReport()
        for file in reports {
            if case .rejected(let problem) = file.outcome {
                // A file the writer must fix: moved to rejected/ with its reason, and said where an operator looks
                // (the log, mtsync_drop_files_rejected_total, and `status` as the stream's bridge warning).
                let stream: SyncStream = batcher.normalizer.settings.platform == .mt5 ? .deals : .trades
                SyncMetric.bridgeAnomalies.increment(server, "file_rejected")
                logger.warning("file rejected", metadata: ["file": "\(file.name)", "reason": "\(problem.code)", "detail": "\(problem)"])
                try? await FactStore.recordWarning(
                    serverID: batcher.serverID, stream: stream, message: "file \(file.name) rejected (\(problem.code)): \(problem)", on: intake.connection)
                continue
            }
            report.pages += 1
            if case .stored(let records, let quarantined) = file.outcome {
                report.records += records + quarantined
                if let stored = outcomes.withLock({ $0[file.name] }) {
                    report.outcome = report.outcome + stored.outcome
                    ServerSync.count(stored.outcome, server: server, stream: stored.stream, read: nil, stored: stored.duration)
                    logger.info("file stored", metadata: [
                        "file": "\(file.name)", "stream": "\(stored.stream)", "records": "\(records)", "inserted": "\(stored.outcome.inserted)",
                        "updated": "\(stored.outcome.updated)", "unchanged": "\(stored.outcome.unchanged)", "deleted": "\(stored.outcome.deleted)",
                        "excluded": "\(stored.outcome.excluded)", "pending": "\(stored.outcome.pending)",
                        "quarantined": "\(quarantined + stored.outcome.quarantined)", "store_ms": "\(stored.duration.wholeMilliseconds)",
                    ])
                }
                report.outcome.quarantined += quarantined
            }
        }
        let caughtUp = try await DecisionCatchUp(batcher: current.withLock { $0 }, connection: intake.connection, platform: batcher.normalizer.settings.platform).run()
        report.released = caughtUp.released
        report.stillPending = caughtUp.stillPending
        report.outcome = report.outcome + caughtUp.outcome
        return report
    }

    /// Quarantines a record of a reference stream (accounts, symbols) that failed validation; 1 when new.
    static func quarantine<Record: RawFieldRecord>(
        _ record: Record, _ rejection: NormalizationRejection, server: String, stream: SyncStream, source: String, on connection: isolated PostgresConnection
    ) throws -> Int {
        try QuarantineEntry(
            serverID: server, stream: stream.rawValue, source: source, lineNumber: nil, reasonCode: rejection.code,
            reason: rejection.description, raw: RecordBatcher.rawBytes(of: record)
        ).insert(on: connection) ? 1 : 0
    }
}
