import Logging
import MTSyncBridge
import MTSyncCore
import MTSyncStore
import Synchronization

/// Syncs a server that exports a CSV drop instead of serving the protocol: each pull takes the ready files
/// (`DropFolderIntake`), normalizing and merging their records exactly like pages from a bridge, in the file's
/// one transaction, and moving the live cursor to the last record the file holds.
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

    public func pull() async throws -> SyncReport {
        let batcher = self.batcher
        // What each file's transaction stored, counted only for the files the intake reports stored (committed): a
        // file rolled back and taken again later is counted once.
        let outcomes = Mutex<[String: (outcome: PageOutcome, stream: String, duration: Duration)]>([:])
        let reports = try await intake.takeReadyFiles { records, file, connection in
            let started = ContinuousClock.now
            var outcome = PageOutcome()
            var deals: [MT5DealRecord] = [], trades: [MT4TradeRecord] = []
            for record in records {
                switch record {
                case .deal(let deal): deals.append(deal)
                case .trade(let trade): trades.append(trade)
                case .account, .symbol: break
                }
            }
            var source = batcher
            source.source = "csv:\(file.name)"
            if !deals.isEmpty {
                let last = deals.compactMap { deal in
                    Int64(deal.timeMsc ?? "").flatMap { time in UInt64(deal.deal ?? "").map { CursorPosition(serverTimeMilliseconds: time, ticket: $0) } }
                }.max()
                outcome = outcome + (try FactStore.store(source.batch(deals: deals, cursor: last), on: connection))
            }
            if !trades.isEmpty {
                let last = file.stream == .trades ? trades.compactMap { trade in
                    Int64(trade.closeTime ?? "").flatMap { time in UInt64(trade.order ?? "").map { CursorPosition(serverTimeMilliseconds: time * 1000, ticket: $0) } }
                }.max() : nil
                outcome = outcome + (try FactStore.store(source.batch(trades: trades, cursor: last), on: connection))
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
            report.pages += 1
            if case .stored(let records, let quarantined) = file.outcome {
                report.records += records + quarantined
                report.outcome.quarantined += quarantined
                if let stored = outcomes.withLock({ $0[file.name] }) {
                    ServerSync.count(stored.outcome, server: batcher.serverID.rawValue, stream: stored.stream, read: nil, stored: stored.duration)
                    logger.info("file stored", metadata: [
                        "file": "\(file.name)", "stream": "\(stored.stream)", "records": "\(records)", "inserted": "\(stored.outcome.inserted)",
                        "updated": "\(stored.outcome.updated)", "unchanged": "\(stored.outcome.unchanged)", "deleted": "\(stored.outcome.deleted)",
                        "quarantined": "\(quarantined)", "store_ms": "\(stored.duration.milliseconds)",
                    ])
                }
            }
        }
        return report
    }
}
