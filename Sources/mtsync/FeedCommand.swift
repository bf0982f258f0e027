import ArgumentParser
import Foundation
import Logging
import MTSyncApp
import MTSyncCore
import MTSyncEngine
import MTSyncIngest
import MTSyncStore
import ServiceLifecycle

/// `mtsync feed`: the loyalty platform's daily feed (docs/ingest.md, "The daily feed").
struct FeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed",
        abstract: "The loyalty platform's daily rows per customer: decide and send them, preview a day, retry refused batches, resend days.",
        subcommands: [FeedRunCommand.self, FeedPreviewCommand.self, FeedRetryCommand.self, FeedResendCommand.self]
    )
}

/// What the feed commands share: the configuration with its `feed:` section and a checked database.
struct FeedContext {
    let configuration: MTSyncConfiguration
    let feed: FeedConfiguration
    let engine: SyncBootstrap
    let connection: PostgresConnection
    let settings: DailyFeedSettings

    /// A trading day as the feed's commands take it: `YYYY-MM-DD`.
    static func isTradingDay(_ text: String) -> Bool { CivilDate.days(parsing: text) != nil }

    static func open(_ options: ConfigOptions, service: Bool = false) async throws -> FeedContext {
        let configuration = try options.load(service: service)
        guard let feed = configuration.feed else { throw FeedNotConfigured() }
        let engine = SyncBootstrap(configuration: configuration)
        let connection = try await engine.connect()
        try await engine.checkSchema(connection)
        return FeedContext(
            configuration: configuration, feed: feed, engine: engine, connection: connection,
            settings: try IngestSinks.feedSettings(for: configuration, feed: feed))
    }
}

struct FeedRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Decide the rows that changed and send the queued batches: with --once until nothing is due, else as a service (`mtsync run` does it too).",
        discussion: "With --once, exit status 0 when every queued batch was sent, 75 when some wait for a retry (the platform failed or throttled), 65 when a batch was refused and parked (`mtsync feed retry` sends it again)."
    )

    @OptionGroup var config: ConfigOptions
    @Flag(help: "Decide and send what is due now, then exit (for cron).") var once = false
    @OptionGroup var output: OutputOptions

    struct Summary: Encodable {
        var built: DailyFeedBuilder.Report
        var snapshots: TierSnapshotBuilder.Report?
        var sent: DailyFeedSender.Report
        var status: DailyFeedStore.Status
    }

    func run() async throws {
        let sinks = IngestSinks()
        do {
            let context: FeedContext
            let service: DailyFeedService
            do {
                // The logger after the configuration is read: it sets the log format and levels.
                context = try await FeedContext.open(config, service: !once)
                service = try await context.engine.feedService(context.feed, on: context.connection, sinks: sinks, logger: Logger(label: "mtsync.feed"))
            } catch {
                throw CommandFailure.report(error, json: output.json)
            }
            if once {
                try await runOnce(service, context: context)
            } else {
                try await SyncBootstrap.runUntilSignalled(service, logger: service.logger)
            }
        } catch {
            await sinks.shutdown()
            throw error
        }
        await sinks.shutdown()
    }

    /// One round, printed; the exit status says what is left (parked: 65, waiting for a retry: 75).
    func runOnce(_ service: DailyFeedService, context: FeedContext) async throws {
        let summary: Summary
        do {
            let round = try await service.round()
            summary = Summary(built: round.built, snapshots: round.snapshots, sent: round.sent, status: try await DailyFeedStore.status(on: context.connection))
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json {
            JSONOutput.print(summary)
        } else {
            print("feed: \(summary.built.rowsQueued) row(s) queued in \(summary.built.batchesQueued) batch(es), \(summary.built.rowsUnchanged) unchanged; \(summary.sent.sent) batch(es) sent (\(summary.sent.rowsSent) rows)")
            if let snapshots = summary.snapshots {
                print("  snapshots through \(snapshots.closedThrough ?? "-"): \(snapshots.rowsQueued) row(s) queued, \(snapshots.rowsUnchanged) unchanged, \(snapshots.customersHeld) customer(s) held")
            }
            if summary.status.heldLogins > 0 { print("  \(summary.status.heldLogins) login(s) held: no customer id (mtsync accounts import)") }
            if summary.status.heldCustomerDays > 0 { print("  \(summary.status.heldCustomerDays) customer day(s) held: \(summary.status.heldReason ?? "")") }
            if let error = summary.sent.lastError { print("  last error: \(error)") }
        }
        if summary.sent.parked > 0 { throw ExitCode(65) }
        if summary.status.batchesPending > 0 { throw ExitCode(75) }
    }
}

struct FeedPreviewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preview",
        abstract: "Print the rows a trading day would send now (every customer with facts that day), without sending or recording anything."
    )

    @OptionGroup var config: ConfigOptions
    @Option(help: "The trading day, YYYY-MM-DD, in the feed's day zone.") var date: String
    @Option(help: "Only this customer id.") var customer: String?
    @Flag(help: "The tier snapshots of the day (feed.snapshots) instead of the daily rows.") var snapshots = false
    @OptionGroup var output: OutputOptions

    struct Preview: Encodable {
        var triggerID: String
        var date: String
        var data: [Row]
        var held: [Held]
        enum CodingKeys: String, CodingKey { case triggerID = "trigger_id", date, data, held }
    }

    struct Row: Encodable {
        var userID: String
        var date: String
        var depositTotal: String
        var closedLots: String
        var withdrawalTotal: String
        var closingTrades: Int
        var logins: [String]
        enum CodingKeys: String, CodingKey {
            case userID = "user_id", date, depositTotal = "deposit_total", closedLots = "closed_lots", withdrawalTotal = "withdrawal_total"
            case closingTrades = "closing_trades", logins
        }
    }

    struct Held: Encodable {
        var userID: String
        var reason: String
        enum CodingKeys: String, CodingKey { case userID = "user_id", reason }
    }

    /// The snapshots a day would send: the rows exactly as sent, and the customers held.
    struct SnapshotPreview: Encodable {
        var triggerID: String
        var date: String
        var data: [String]
        var held: [Held]
        enum CodingKeys: String, CodingKey { case triggerID = "trigger_id", date, data, held }
    }

    func run() async throws {
        if snapshots { return try await runSnapshots() }
        let preview: Preview
        do {
            guard FeedContext.isTradingDay(date) else { throw ValidationError("--date must be YYYY-MM-DD") }
            let context = try await FeedContext.open(config)
            let (rows, held) = try await DailyFeedBuilder(settings: context.settings, connection: context.connection).preview(day: date, customerID: customer)
            preview = Preview(
                triggerID: context.feed.triggerID, date: date,
                data: rows.map {
                    Row(userID: $0.customerID, date: $0.date, depositTotal: DailyFeedRow.money($0.depositTotal), closedLots: $0.closedLots.description,
                        withdrawalTotal: DailyFeedRow.money($0.withdrawalTotal), closingTrades: $0.closingTrades, logins: $0.logins)
                },
                held: held.map { Held(userID: $0.0, reason: $0.1) })
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json {
            JSONOutput.print(preview)
            return
        }
        print("rows for \(preview.date) (trigger \(preview.triggerID)): \(preview.data.count)")
        print("user_id,date,deposit_total,closed_lots   (kept, not sent: withdrawal_total, closing_trades, logins)")
        for row in preview.data {
            print("\(TerminalText.printable(row.userID)),\(row.date),\(row.depositTotal),\(row.closedLots)   \(row.withdrawalTotal) \(row.closingTrades) \(row.logins.joined(separator: " "))")
        }
        for held in preview.held { print("held \(TerminalText.printable(held.userID)): \(TerminalText.printable(held.reason))") }
    }

    func runSnapshots() async throws {
        let rows: [TierSnapshotRow], held: [(String, String)], trigger: String
        do {
            guard FeedContext.isTradingDay(date) else { throw ValidationError("--date must be YYYY-MM-DD") }
            let context = try await FeedContext.open(config)
            guard let settings = context.settings.snapshots, let snapshots = context.feed.snapshots else {
                throw FeedMisconfigured(message: "--snapshots needs feed.snapshots (its trigger_id) in the configuration")
            }
            (rows, held) = try await TierSnapshotBuilder(settings: context.settings, snapshots: settings, connection: context.connection).preview(day: date, customerID: customer)
            trigger = snapshots.triggerID
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json {
            // The rows are printed exactly as they are sent.
            let data = "[" + rows.map(\.rowJSON).joined(separator: ",") + "]"
            let heldJSON = "[" + held.map { "{\"user_id\":\(JSONText.quoted($0.0)),\"reason\":\(JSONText.quoted($0.1))}" }.joined(separator: ",") + "]"
            print("{\"trigger_id\":\(JSONText.quoted(trigger)),\"date\":\"\(date)\",\"data\":\(data),\"held\":\(heldJSON)}")
            return
        }
        print("tier snapshots for \(date) (trigger \(trigger)): \(rows.count)")
        print(TierSnapshotRow.sentColumns.joined(separator: ","))
        for row in rows { print(TerminalText.printable(row.csvFields.joined(separator: ","))) }
        for (customer, reason) in held { print("held \(TerminalText.printable(customer)): \(TerminalText.printable(reason))") }
    }
}

struct FeedRetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Queue the batches the platform refused (parked) again, after the queued ones; `mtsync feed run` sends them."
    )

    @OptionGroup var config: ConfigOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await output.reportCount(jsonKey: "requeued", saying: "parked batch(es) queued again") {
            try await DailyFeedStore.retryParked(on: try await FeedContext.open(config).connection)
        }
    }
}

struct FeedResendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resend",
        abstract: "Queue the rows of trading days [--from, --to] again, unchanged ones too, under new batch ids, for a platform that lost them; `mtsync feed run` (or the daemon) sends them."
    )

    @OptionGroup var config: ConfigOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "The first trading day, YYYY-MM-DD, in the feed's day zone.") var from: String
    @Option(help: "The last trading day (inclusive), YYYY-MM-DD.") var to: String
    @Option(help: "Only this customer id.") var customer: String?
    @Flag(help: "The tier snapshots of those days (feed.snapshots), instead of the daily rows.") var snapshots = false

    func run() async throws {
        if snapshots { return try await resendSnapshots() }
        let report: DailyFeedBuilder.Report
        do {
            for day in [from, to] where !FeedContext.isTradingDay(day) {
                throw ValidationError("--from and --to must be YYYY-MM-DD, not \(String(reflecting: day))")
            }
            guard from <= to else { throw ValidationError("--from must not be after --to") }
            let context = try await FeedContext.open(config)
            report = try await DailyFeedBuilder(settings: context.settings, connection: context.connection).queueRange(
                fromDay: from, toDay: to, servers: nil, customerID: customer, origin: "resend:\(from)..\(to)", forceNewRevision: true)
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json {
            JSONOutput.print(report)
        } else {
            print("\(report.rowsQueued) row(s) of \(report.customerDays) customer day(s) queued again in \(report.batchesQueued) batch(es)\(report.customerDaysHeld > 0 ? "; \(report.customerDaysHeld) held" : ""); `mtsync feed run` or the daemon sends them")
        }
    }

    func resendSnapshots() async throws {
        let report: TierSnapshotBuilder.Report
        do {
            for day in [from, to] where !FeedContext.isTradingDay(day) {
                throw ValidationError("--from and --to must be YYYY-MM-DD, not \(String(reflecting: day))")
            }
            guard from <= to else { throw ValidationError("--from must not be after --to") }
            let context = try await FeedContext.open(config)
            guard let settings = context.settings.snapshots else { throw FeedMisconfigured(message: "--snapshots needs feed.snapshots (its trigger_id) in the configuration") }
            report = try await TierSnapshotBuilder(settings: context.settings, snapshots: settings, connection: context.connection).queueRange(
                fromDay: from, toDay: to, servers: nil, customerID: customer, origin: "resend-snapshots:\(from)..\(to)", forceNewRevision: true)
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json {
            JSONOutput.print(report)
        } else {
            print("\(report.rowsQueued) snapshot row(s) of \(report.customers) customer(s) queued again in \(report.batchesQueued) batch(es)\(report.customersHeld > 0 ? "; \(report.customersHeld) held" : ""); `mtsync feed run` or the daemon sends them")
        }
    }
}
