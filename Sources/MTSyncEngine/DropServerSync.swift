import MTSyncBridge
import MTSyncCore
import MTSyncStore

/// Syncs a server that exports a CSV drop instead of serving the protocol: each pull takes the ready files
/// (`DropFolderIntake`), normalizing and merging their records exactly like pages from a bridge, in the file's
/// one transaction, and moving the live cursor to the last record the file holds.
public struct DropServerSync: Sendable {
    public let intake: DropFolderIntake
    public let batcher: RecordBatcher

    public init(intake: DropFolderIntake, batcher: RecordBatcher) {
        self.intake = intake
        self.batcher = batcher
    }

    public func pull() async throws -> SyncReport {
        let batcher = self.batcher
        let reports = try await intake.takeReadyFiles { records, file, connection in
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
                try FactStore.store(source.batch(deals: deals, cursor: last), on: connection)
            }
            if !trades.isEmpty {
                let last = file.stream == .trades ? trades.compactMap { trade in
                    Int64(trade.closeTime ?? "").flatMap { time in UInt64(trade.order ?? "").map { CursorPosition(serverTimeMilliseconds: time * 1000, ticket: $0) } }
                }.max() : nil
                try FactStore.store(source.batch(trades: trades, cursor: last), on: connection)
            }
        }
        var report = SyncReport()
        for file in reports {
            report.pages += 1
            if case .stored(let records, let quarantined) = file.outcome {
                report.records += records + quarantined
                report.outcome.quarantined += quarantined
            }
        }
        return report
    }
}
