import Foundation
import MTSyncCore
import MTSyncIngest
import MTSyncStore

/// Decides the tier snapshots' rows and queues their batches (docs/ingest.md, "Tier snapshots").
///
/// A snapshot is decided once its trading day has closed — when a day closes, its customers are marked from it on —
/// and again whenever a late deal, a corrected daily record or an account change alters it: a customer marked from a
/// day has every snapshot from that day to the last closed one recomputed (deposits to date, the trailing 30 days and
/// open lots carry forward), and the rows whose sent figures changed go out under their next revision. Rows,
/// batches and the settled marks commit in one transaction, under the feed builder's lock.
public struct TierSnapshotBuilder: Sendable {
    public let settings: DailyFeedSettings
    public let snapshots: TierSnapshotSettings
    public let connection: PostgresConnection

    public init(settings: DailyFeedSettings, snapshots: TierSnapshotSettings, connection: PostgresConnection) {
        self.settings = settings
        self.snapshots = snapshots
        self.connection = connection
    }

    public struct Report: Sendable, Hashable, Encodable {
        public var closedThrough: String?
        public var customers = 0
        public var rowsQueued = 0
        public var rowsUnchanged = 0
        public var customersHeld = 0
        public var batchesQueued = 0
        public var filesQueued = 0

        public init() {}

        enum CodingKeys: String, CodingKey {
            case closedThrough = "closed_through", customers, rowsQueued = "rows_queued", rowsUnchanged = "rows_unchanged"
            case customersHeld = "customers_held", batchesQueued = "batches_queued", filesQueued = "files_queued"
        }
    }

    /// The last trading day whose close has passed at `now`.
    public func closedThrough(now: Date = Date()) -> Int64 {
        let milliseconds = Int64(now.timeIntervalSince1970 * 1000)
        var day = milliseconds / 86_400_000 + 1
        while let close = settings.day.closeUTCMilliseconds(ofDay: day), close > milliseconds { day -= 1 }
        return day
    }

    /// Marks the customers of the days that closed since the last round, then decides every marked customer.
    public func build(now: Date = Date()) async throws -> Report {
        var report = Report()
        let closed = closedThrough(now: now)
        report.closedThrough = CivilDate.text(daysSince1970: closed)
        try await connection.transaction(name: "close snapshot days") { [settings] connection in
            try DailyFeedStore.lockBuilder(on: connection)
            try SnapshotStore.advance(closedThrough: CivilDate.text(daysSince1970: closed), day: settings.day, on: connection)
        }
        try await decideMarked(toDay: closed, unchanged: .settle, files: false, origin: "live", into: &report)
        return report
    }

    /// `backfill --snapshots` and `feed resend --snapshots`: the customers with accounts on `servers` (or `customerID`)
    /// from `fromDay` on, up to `toDay` (at most the last closed day), sent whole: as files at their current revisions
    /// (a rerun uploads nothing new), or, with `forceNewRevision`, under their next revisions.
    public func queueRange(
        fromDay: String, toDay: String, servers: [String]?, customerID: String? = nil, origin: String, forceNewRevision: Bool = false, now: Date = Date()
    ) async throws -> Report {
        var report = try await build(now: now)
        let end = min(closedThrough(now: now), CivilDate.days(parsing: toDay) ?? 0)
        let customers = try await connection.transaction(name: "mark snapshot customers") { connection in
            try DailyFeedStore.lockBuilder(on: connection)
            let customers = try customerID.map { [$0] } ?? SnapshotStore.customers(servers: servers, on: connection)
            try SnapshotStore.mark(customers: customers, fromDay: fromDay, on: connection)
            return customers
        }
        report.customers = 0
        try await decideMarked(
            toDay: end, unchanged: forceNewRevision ? .newRevision : .currentRevision, files: !forceNewRevision, origin: origin, into: &report,
            only: Set(customers))
        return report
    }

    /// The rows `customerID` (or every customer with accounts) would send for `day` now, and the customers held with
    /// their reason; writes nothing.
    public func preview(day: String, customerID: String?) async throws -> (rows: [TierSnapshotRow], held: [(String, String)]) {
        guard let dayNumber = CivilDate.days(parsing: day) else { return ([], []) }
        return try await connection.transaction(name: "preview snapshots") { [settings, snapshots] connection in
            let customers = try customerID.map { [$0] } ?? SnapshotStore.customers(servers: nil, on: connection)
            let inputs = try SnapshotStore.inputs(customers: customers, fromDay: day, toDay: day, day: settings.day, deposits: settings.deposits, on: connection)
            var rows: [TierSnapshotRow] = [], held: [(String, String)] = []
            for customer in customers {
                switch Self.rows(customer, inputs: inputs, fromDay: dayNumber, toDay: dayNumber, settings: settings, snapshots: snapshots) {
                case .success(let found): rows += found
                case .failure(let hold): held.append((customer, hold.reason))
                }
            }
            return (rows, held)
        }
    }

    /// Decides marked customers pass after pass (`only`: just those), each from its marked day to `toDay`.
    private func decideMarked(
        toDay: Int64, unchanged: PlatformRowDecision.UnchangedRows, files: Bool, origin: String, into report: inout Report, only: Set<String>? = nil
    ) async throws {
        var after: String?
        while !Task.isCancelled {
            let pass = try await connection.transaction(name: "decide snapshots") { [settings, snapshots, after] connection in
                try DailyFeedStore.lockBuilder(on: connection)
                var marked = try SnapshotStore.dirtyCustomers(after: after, limit: snapshots.customersPerPass, on: connection)
                let last = marked.last?.customerID
                if let only { marked = marked.filter { only.contains($0.customerID) } }
                let decision = try Self.decide(marked, toDay: toDay, settings: settings, snapshots: snapshots, unchanged: unchanged, files: files, on: connection)
                try SnapshotStore.record(
                    queued: decision.queued, batches: decision.batches, origin: origin, settled: decision.settled.map(\.customerID),
                    held: decision.held.map { ($0.0.customerID, $0.1) }, on: connection)
                return (last, marked.count, decision)
            }
            report.customers += pass.1
            report.rowsQueued += pass.2.queued.count
            report.rowsUnchanged += pass.2.unchanged
            report.customersHeld += pass.2.held.count
            report.batchesQueued += pass.2.batches.count
            report.filesQueued += pass.2.files
            guard let last = pass.0 else { break }
            after = last
        }
    }

    /// One pass: the marked customers' rows from each one's marked day to `toDay`, queued where they changed. A
    /// customer marked from after `toDay` (today's facts: its day has not closed) is settled with nothing to send:
    /// the day's close marks it again.
    static func decide(
        _ marked: [SnapshotStore.DirtyCustomer], toDay: Int64, settings: DailyFeedSettings, snapshots: TierSnapshotSettings,
        unchanged: PlatformRowDecision.UnchangedRows, files: Bool, on connection: isolated PostgresConnection
    ) throws -> PlatformRowDecision {
        var decision = PlatformRowDecision()
        guard !marked.isEmpty else { return decision }
        let fromDays = marked.map { CivilDate.days(parsing: $0.fromDay) ?? toDay }
        let earliest = fromDays.min() ?? toDay
        var rows: [TierSnapshotRow] = []
        if earliest <= toDay {
            let customers = marked.map(\.customerID)
            let inputs = try SnapshotStore.inputs(
                customers: customers, fromDay: CivilDate.text(daysSince1970: earliest), toDay: CivilDate.text(daysSince1970: toDay),
                day: settings.day, deposits: settings.deposits, on: connection)
            for (customer, fromDay) in zip(marked, fromDays) {
                switch Self.rows(customer.customerID, inputs: inputs, fromDay: fromDay, toDay: toDay, settings: settings, snapshots: snapshots) {
                case .success(let found):
                    rows += found
                    decision.settled.append(.init(customerID: customer.customerID, day: customer.fromDay))
                case .failure(let hold):
                    decision.held.append((.init(customerID: customer.customerID, day: customer.fromDay), hold.reason))
                }
            }
            let previous = try SnapshotStore.previousRows(customers: customers, fromDay: CivilDate.text(daysSince1970: earliest), on: connection)
            decision.queue(rows, previous: previous, unchanged: unchanged, files: files, envelope: snapshots.envelope, packing: settings.packing)
        } else {
            decision.settled = marked.map { .init(customerID: $0.customerID, day: $0.fromDay) }
        }
        return decision
    }

    /// One customer's rows of `fromDay...toDay` from the store's inputs.
    static func rows(
        _ customerID: String, inputs: SnapshotStore.Inputs, fromDay: Int64, toDay: Int64, settings: DailyFeedSettings, snapshots: TierSnapshotSettings
    ) -> Result<[TierSnapshotRow], DailyFeedHold> {
        var accounts: [TierSnapshotCalculator.Account] = []
        for account in inputs.accounts where account.customerID == customerID {
            let key = "\(account.server):\(account.login)"
            var figures: [Int64: TierSnapshotCalculator.DayFigures] = [:]
            for day in inputs.figures[key] ?? [] {
                guard let number = CivilDate.days(parsing: day.day), let closed = ExactDecimal(parsing: day.closedLots),
                      let open = ExactDecimal(parsing: day.openDelta), let deposits = ExactDecimal(parsing: day.deposits),
                      let withdrawals = ExactDecimal(parsing: day.withdrawals)
                else {
                    return .failure(DailyFeedHold(reason: "the figures of login \(key) on \(day.day) leave the exact decimal range; check its deals"))
                }
                figures[number] = .init(closedLots: closed, unknownReversals: day.unknownReversals, trades: day.trades, openDelta: open, deposits: deposits, withdrawals: withdrawals)
            }
            var states: [Int64: TierSnapshotCalculator.State] = [:]
            // A day's daily record wins over the money polled that day.
            for state in (inputs.states[key] ?? []).sorted(by: { $0.source == .polled && $1.source == .daily }) {
                guard let number = CivilDate.days(parsing: state.day) else { continue }
                states[number] = .init(
                    source: state.source == .daily ? .daily : .polled, currency: state.currency, balance: state.balance.flatMap { ExactDecimal(parsing: $0) },
                    credit: state.credit.flatMap { ExactDecimal(parsing: $0) }, equity: state.equity.flatMap { ExactDecimal(parsing: $0) })
            }
            accounts.append(.init(
                key: key, login: account.login, group: account.group, currency: account.currency,
                policy: snapshots.policies[account.server] ?? AccountPolicy(), history: inputs.histories[account.server]?[account.login],
                figures: figures, states: states))
        }
        return TierSnapshotCalculator.rows(
            customerID: customerID, accounts: accounts, fromDay: fromDay, toDay: toDay, rules: settings.rules,
            close: { settings.day.closeUTCMilliseconds(ofDay: $0) })
    }
}
