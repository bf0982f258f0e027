import MTSyncCore
import MTSyncIngest
import MTSyncStore

/// Decides the daily feed's rows and queues their batches (docs/ingest.md, "The daily feed").
///
/// A pass: (1) marked (server, login, UTC day)s become the (customer, trading day)s they touch — a login without a
/// customer id is held until one appears, unless nothing of it counts that day (every fact of a demo group is
/// excluded by its account's decision: it is dropped); (2) each such
/// customer day is summed whole, across every login and server of the customer; a row whose figures differ from
/// the last one queued gets revision + 1 and goes into a batch, an unchanged one is settled without sending. Rows,
/// batches and settled marks commit in one transaction, so a crash queues a decision whole or not at all.
public struct DailyFeedBuilder: Sendable {
    public let settings: DailyFeedSettings
    public let connection: PostgresConnection

    public init(settings: DailyFeedSettings, connection: PostgresConnection) {
        self.settings = settings
        self.connection = connection
    }

    public struct Report: Sendable, Hashable, Encodable {
        public var loginDaysSettled = 0
        public var loginDaysHeld = 0
        public var loginDaysDropped = 0
        public var customerDays = 0
        public var rowsQueued = 0
        public var rowsUnchanged = 0
        public var customerDaysHeld = 0
        public var batchesQueued = 0
        public var filesQueued = 0

        enum CodingKeys: String, CodingKey {
            case loginDaysSettled = "login_days_settled", loginDaysHeld = "login_days_held", loginDaysDropped = "login_days_dropped"
            case customerDays = "customer_days", rowsQueued = "rows_queued", rowsUnchanged = "rows_unchanged"
            case customerDaysHeld = "customer_days_held", batchesQueued = "batches_queued", filesQueued = "files_queued"
        }
    }

    /// Settles every open mark and decides every customer day waiting, pass after pass.
    public func build() async throws -> Report {
        var report = Report()
        while !Task.isCancelled {
            let settled = try await connection.transaction(name: "settle feed marks") { [settings] connection in
                try DailyFeedStore.lockBuilder(on: connection)
                let marks = try DailyFeedStore.openLoginMarks(limit: 5_000, on: connection)
                var released: [DailyFeedStore.LoginMark] = [], held: [DailyFeedStore.LoginMark] = [], dropped: [DailyFeedStore.LoginMark] = []
                for mark in marks {
                    // What counts was decided with the facts (their account's group): a login none of whose facts
                    // count that day has nothing to send, so it waits for no customer id.
                    if mark.customerID != nil {
                        released.append(mark)
                    } else if mark.hasCountedFacts {
                        held.append(mark)
                    } else {
                        dropped.append(mark)
                    }
                }
                try DailyFeedStore.settleLoginMarks(released: released, held: held, dropped: dropped, day: settings.day, on: connection)
                return (marks.count, released.count, held.count, dropped.count)
            }
            report.loginDaysSettled += settled.1
            report.loginDaysHeld += settled.2
            report.loginDaysDropped += settled.3
            if settled.0 < 5_000 { break }
        }
        var after: DailyFeedStore.CustomerDay?
        while !Task.isCancelled {
            let pass = try await connection.transaction(name: "decide feed rows") { [settings, after] connection in
                try DailyFeedStore.lockBuilder(on: connection)
                let days = try DailyFeedStore.dirtyCustomerDays(after: after, limit: settings.rowsPerPass, on: connection)
                let decided = try Self.decide(days, settings: settings, unchanged: .settle, files: false, on: connection)
                try DailyFeedStore.record(queued: decided.queued, batches: decided.batches, origin: "live", settled: decided.settled, refreshed: decided.refreshed, held: decided.held, on: connection)
                return (days.last, days.count, decided)
            }
            report.customerDays += pass.1
            report.add(pass.2)
            after = pass.0
            if pass.1 < settings.rowsPerPass { break }
        }
        return report
    }

    /// `mtsync backfill --feed`: every customer day with facts in the trading days [fromDay, toDay] (and every one
    /// waiting there), sent whole as file uploads — unchanged rows too, at their current revision. The batch ids
    /// depend on the rows and revisions only, so a rerun of the same backfill builds the same files, which are
    /// already recorded and are not uploaded again.
    ///
    /// `mtsync feed resend` (`forceNewRevision`): the same days, unchanged rows under revision + 1, so their batches
    /// get new ids and go out again — for a platform that lost rows it was sent (it upserts by `user_id` + `date`,
    /// so a row it still has is replaced by the same figures). As messages, or files above `file_ingest.above_rows`.
    public func queueRange(
        fromDay: String, toDay: String, servers: [String]?, customerID: String? = nil, origin: String, forceNewRevision: Bool = false
    ) async throws -> Report {
        _ = try await build()
        var report = Report()
        var days = try await connection.transaction(name: "list customer days of a range") { [settings] connection in
            try DailyFeedStore.customerDays(fromDay: fromDay, toDay: toDay, servers: servers, day: settings.day, on: connection)
        }
        if let customerID { days = days.filter { $0.customerID == customerID } }
        let unchanged: PlatformRowDecision.UnchangedRows = forceNewRevision ? .newRevision : .currentRevision
        for start in stride(from: 0, to: days.count, by: settings.rowsPerPass) {
            let chunk = Array(days[start..<min(days.count, start + settings.rowsPerPass)])
            let decided = try await connection.transaction(name: "queue a range of feed rows") { [settings] connection in
                try DailyFeedStore.lockBuilder(on: connection)
                let decided = try Self.decide(chunk, settings: settings, unchanged: unchanged, files: !forceNewRevision, on: connection)
                try DailyFeedStore.record(queued: decided.queued, batches: decided.batches, origin: origin, settled: decided.settled, refreshed: decided.refreshed, held: decided.held, on: connection)
                return decided
            }
            report.customerDays += chunk.count
            report.add(decided)
        }
        return report
    }

    /// The rows a trading day would send now (figures as they stand, unchanged or not), and the days held with
    /// their reason; writes nothing.
    public func preview(day: String, customerID: String?) async throws -> (rows: [DailyFeedRow], held: [(String, String)]) {
        try await connection.transaction(name: "preview feed rows") { [settings] connection in
            var days = try DailyFeedStore.customerDays(fromDay: day, toDay: day, servers: nil, day: settings.day, on: connection)
            if let customerID { days = days.filter { $0.customerID == customerID } }
            let figures = try DailyFeedStore.loginFigures(of: days, day: settings.day, deposits: settings.deposits, on: connection)
            var rows: [DailyFeedRow] = [], held: [(String, String)] = []
            for day in days {
                switch Self.row(for: day, sums: figures[day] ?? [], settings: settings) {
                case .success(let row): if !row.logins.isEmpty { rows.append(row) }
                case .failure(let hold): held.append((day.customerID, hold.reason))
                }
            }
            return (rows, held)
        }
    }

    typealias Decision = PlatformRowDecision

    static func decide(_ days: [DailyFeedStore.CustomerDay], settings: DailyFeedSettings, unchanged: PlatformRowDecision.UnchangedRows, files: Bool, on connection: isolated PostgresConnection) throws -> Decision {
        var decision = Decision()
        guard !days.isEmpty else { return decision }
        let figures = try DailyFeedStore.loginFigures(of: days, day: settings.day, deposits: settings.deposits, on: connection)
        let previous = try DailyFeedStore.previousRows(of: days, on: connection)
        var rows: [DailyFeedRow] = []
        for day in days.sorted() {
            switch row(for: day, sums: figures[day] ?? [], settings: settings) {
            case .failure(let hold):
                decision.held.append((day, hold.reason))
            case .success(let row):
                decision.settled.append(day)
                // Nothing was ever sent for this day and nothing counts in it now (its facts went, or all its
                // logins are excluded): there is no row to upsert.
                if previous[day] == nil, row.logins.isEmpty { continue }
                rows.append(row)
            }
        }
        decision.queue(rows, previous: previous, unchanged: unchanged, files: files, envelope: settings.envelope, packing: settings.packing)
        return decision
    }

    /// One customer day's row from its logins' sums (of counted facts only), through the calculator.
    static func row(for day: DailyFeedStore.CustomerDay, sums: [DailyFeedStore.LoginDaySums], settings: DailyFeedSettings) -> Result<DailyFeedRow, DailyFeedHold> {
        var logins: [LoginDayFigures] = []
        for sum in sums {
            guard let lots = ExactDecimal(parsing: sum.closedLots), let deposits = ExactDecimal(parsing: sum.deposits),
                  let withdrawals = ExactDecimal(parsing: sum.withdrawals), let net = ExactDecimal(parsing: sum.tradingNet)
            else {
                return .failure(DailyFeedHold(reason: "the sums of login \(sum.server):\(sum.login) on \(day.day) leave the exact decimal range; check its deals"))
            }
            logins.append(LoginDayFigures(
                server: sum.server, login: sum.login, group: sum.group, currency: sum.currency, closedLots: lots, closingTrades: sum.closingTrades,
                deposits: deposits, withdrawals: withdrawals, tradingNet: net, unknownReversals: sum.unknownReversals))
        }
        return DailyFeedCalculator.row(customerID: day.customerID, date: day.day, logins: logins, rules: settings.rules)
    }
}

extension DailyFeedBuilder.Report {
    mutating func add(_ decision: DailyFeedBuilder.Decision) {
        rowsQueued += decision.queued.count
        rowsUnchanged += decision.unchanged
        customerDaysHeld += decision.held.count
        batchesQueued += decision.batches.count
        filesQueued += decision.files
    }
}
