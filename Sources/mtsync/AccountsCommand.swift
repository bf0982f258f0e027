import ArgumentParser
import Foundation
import MTSyncBridge
import MTSyncApp
import MTSyncCore
import MTSyncEngine
import MTSyncStore

/// `mtsync accounts`: who each trading login belongs to, for the daily feed (docs/ingest.md, "Who the trader is").
struct AccountsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accounts",
        abstract: "Trading accounts and their broker customer ids: pull them from the bridges, import corrections, show one login.",
        subcommands: [AccountsSyncCommand.self, AccountsImportCommand.self, AccountsShowCommand.self]
    )
}

struct AccountsSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Read every server's accounts now: a bridge server's accounts stream (login, group, currency, leverage, customer id, money), a drop server's ready accounts files.",
        discussion: """
            Then the decisions catch up: facts held for an account that arrived are sent (or excluded, with the reason), and \
            stored facts a changed account decides differently are sent or retracted. The daemon does the same on its own \
            (a bridge server's accounts every accounts_every; a drop server's files on every pull).
            """
    )

    @OptionGroup var config: ConfigOptions
    @Option(help: "Only this server.") var server: String?
    @OptionGroup var output: OutputOptions

    /// What one server's accounts read did.
    struct Summary: Encodable {
        var server: String
        var source: String
        var accounts: AccountSync.Report?
        var files: Int?
        var released: Int
        var stillPending: Int

        enum CodingKeys: String, CodingKey {
            case server, source, accounts, files, released, stillPending = "still_pending"
        }
    }

    func run() async throws {
        var summaries: [Summary] = []
        do {
            let configuration = try config.load()
            let engine = SyncBootstrap(configuration: configuration)
            let connection = try await engine.connect()
            try await engine.checkSchema(connection)
            for server in try engine.servers(named: server) {
                try await FactStore.register(serverID: server.id, platform: server.platform, zone: server.zoneName, on: connection)
                switch server.source {
                case .bridge:
                    guard let sync = try engine.accountSync(for: server, connection: connection) else { continue }
                    let report = try await sync.pull()
                    summaries.append(Summary(server: server.id.rawValue, source: "bridge", accounts: report, released: report.released, stillPending: report.stillPending))
                case .drop(let drop):
                    let report = try await engine.dropSync(for: server, drop: drop, connection: connection).pull(only: [.accounts])
                    summaries.append(Summary(server: server.id.rawValue, source: "drop", files: report.pages, released: report.released, stillPending: report.stillPending))
                }
            }
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json {
            JSONOutput.print(summaries)
        } else {
            for summary in summaries {
                if let report = summary.accounts {
                    print("\(summary.server): \(report.accounts) account(s), \(report.changed) changed, \(report.withoutCustomerID) without a customer id, \(report.quarantined) quarantined")
                } else {
                    print("\(summary.server): drop folder, \(summary.files ?? 0) accounts file(s) taken")
                }
                print("  held records decided: \(summary.released), still waiting for their account: \(summary.stillPending)")
            }
        }
    }
}

struct AccountsImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Load or correct customer ids from a CSV with a header row naming login, server and customer_id (any order, other columns ignored).",
        discussion: """
            The operator's customer id wins over the bridge's client id; an empty customer_id removes the correction (the \
            bridge's id counts again). Every change is audited with --by (default: the operating-system user) and the \
            time. Held days of logins that get a customer id are sent by the next feed round. The file is checked whole \
            first: one bad row and nothing is imported (exit status 65, every bad row listed).
            """
    )

    @OptionGroup var config: ConfigOptions
    @Argument(help: "The CSV file.") var file: String
    @Option(help: "Who makes the change, for the audit (default: operator:<user>).") var by: String?
    @OptionGroup var output: OutputOptions

    struct Summary: Encodable {
        var rows: Int
        var changed: Int
        var changedBy: String
        enum CodingKeys: String, CodingKey { case rows, changed, changedBy = "changed_by" }
    }

    func run() async throws {
        let summary: Summary
        do {
            let rows = try CustomerMappingFile.parse(file: file)
            let configuration = try config.load()
            let engine = SyncBootstrap(configuration: configuration)
            let connection = try await engine.connect()
            try await engine.checkSchema(connection)
            let who = by ?? "operator:\(ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "unknown")"
            let changed = try await AccountDirectory.importCustomerIDs(rows, changedBy: who, on: connection)
            summary = Summary(rows: rows.count, changed: changed, changedBy: who)
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json { JSONOutput.print(summary) } else { print("\(summary.rows) row(s) read, \(summary.changed) account(s) changed by \(summary.changedBy)") }
    }
}

struct AccountsShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a login's accounts (on every server, or one), their customer id and where it comes from, held days, and the audit of changes."
    )

    @OptionGroup var config: ConfigOptions
    @Argument(help: "The trading login.") var login: UInt64
    @Option(help: "Only this server.") var server: String?
    @OptionGroup var output: OutputOptions

    struct Shown: Encodable {
        var accounts: [StoredAccount]
        var changes: [AccountChange]
    }

    func run() async throws {
        let shown: Shown
        do {
            let configuration = try config.load()
            let engine = SyncBootstrap(configuration: configuration)
            let connection = try await engine.connect()
            try await engine.checkSchema(connection)
            let (accounts, changes) = try await AccountDirectory.show(login: login, server: server, on: connection)
            shown = Shown(accounts: accounts, changes: changes)
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
        if output.json {
            JSONOutput.print(shown)
            return
        }
        if shown.accounts.isEmpty { print("no account with login \(login)\(server.map { " on \($0)" } ?? "")") }
        for account in shown.accounts {
            let origin = account.customerOverride != nil ? "operator" : account.clientID != nil ? "bridge" : "none"
            print("\(account.server):\(account.login) group \(TerminalText.printable(account.group, absent: "?")) currency \(TerminalText.printable(account.currency, absent: "?")) leverage \(account.leverage.map(String.init) ?? "?")")
            print("  customer id: \(TerminalText.printable(account.customerID, absent: "(none: its days are held)")) [from \(origin)]; bridge client_id \(TerminalText.printable(account.clientID, absent: "-")), operator \(TerminalText.printable(account.customerOverride, absent: "-"))")
            if account.heldDays > 0 { print("  \(account.heldDays) day(s) held for want of a customer id") }
        }
        if !shown.changes.isEmpty { print("changes:") }
        for change in shown.changes {
            print("  \(change.changedAt) \(change.server):\(change.login) \(change.field): \(TerminalText.printable(change.oldValue, absent: "-")) -> \(TerminalText.printable(change.newValue, absent: "-")) by \(TerminalText.printable(change.changedBy))")
        }
    }
}
