import ArgumentParser
import Foundation
import MTSyncCore
import MTSyncStore

/// `mtsync cursor …`: operator control of the sync cursors, every change recorded in `cursor_audit`.
struct CursorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cursor",
        abstract: "Show or move a server's sync cursors; every change is audited.",
        discussion: """
            Times are server time: the trade server's wall clock counted as if it were UTC, as MetaTrader writes \
            them. A cursor (time, ticket) means "everything up to and including this record is stored"; the next \
            pull starts after it. mtsync itself only moves cursors forward; `set` may move one back to read a \
            period again (stored facts are not doubled: their identity makes re-reading harmless). A change fences \
            the instance syncing the server: its in-flight page is refused and it re-reads the cursor.
            """,
        subcommands: [CursorGetCommand.self, CursorSetCommand.self, CursorResetCommand.self, CursorHistoryCommand.self]
    )

    /// `--by`'s default: `$USER@hostname`.
    static func defaultOperator() -> String {
        let environment = ProcessInfo.processInfo.environment
        let user = environment["USER"].flatMap { $0.isEmpty ? nil : $0 } ?? environment["LOGNAME"] ?? NSUserName()
        var buffer = [CChar](repeating: 0, count: 256)
        let host = gethostname(&buffer, buffer.count - 1) == 0
            ? String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown-host"
        return "\(user)@\(host)"
    }

    /// A stream by its name (`open_trades`; `open-trades` as the CSV drop spells it is accepted too).
    static func syncStream(_ name: String) throws(StoreRefusal) -> SyncStream {
        guard let stream = SyncStream(rawValue: name.replacingOccurrences(of: "-", with: "_")) else {
            throw StoreRefusal(code: .unknownStream, serverID: nil, message: "\(String(reflecting: name)) is not a stream; the streams are \(SyncStream.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return stream
    }

    /// A bad stream name is a usage error (exit 64), found before connecting.
    static func validateStream(_ name: String) throws {
        do {
            _ = try syncStream(name)
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// Like `CommandFailure.report`, plus the refusals of `CursorControl`: an unknown server or stream, a
    /// missing reason — a bad value on the command line, so exit 64.
    static func report(_ error: any Error, json: Bool) -> ExitCode {
        guard let refusal = error as? StoreRefusal, [.unknownServer, .unknownStream, .invalidArgument].contains(refusal.code) else {
            return CommandFailure.report(error, json: json)
        }
        let kind = refusal.code == .unknownServer ? "unknown_server" : refusal.code == .unknownStream ? "unknown_stream" : "invalid_argument"
        if json {
            JSONOutput.print(["error": ["kind": kind, "message": refusal.description]])
        } else {
            FileHandle.standardError.write(Data("mtsync: error: \(refusal)\n".utf8))
        }
        return ExitCode(64)
    }
}

/// A cursor position as printed: server time in ISO form and in milliseconds, and the ticket.
struct CursorPositionReport: Encodable {
    let serverTime: String
    let serverMsc: Int64
    let ticket: UInt64

    init(_ position: CursorPosition) {
        serverTime = ServerTimeText.iso8601(milliseconds: position.serverTimeMilliseconds)
        serverMsc = position.serverTimeMilliseconds
        ticket = position.ticket
    }

    var text: String { "\(serverTime) (\(serverMsc) ms), ticket \(ticket)" }
}

/// A real instant (`timestamptz`) as printed: ISO 8601 UTC with milliseconds.
private func utc(_ date: Date) -> String {
    ServerTimeText.iso8601(milliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded(.down))) + "Z"
}

struct CursorAuditReport: Encodable {
    let id: Int64
    let stream: String
    let action: String
    let oldPosition: CursorPositionReport?
    let oldChangeSequence: Int64?
    let newPosition: CursorPositionReport
    let movedBack: Bool
    let fencedOwner: String?
    let by: String
    let reason: String
    let at: String

    init(_ entry: CursorAuditEntry) {
        id = entry.id
        stream = entry.stream.rawValue
        action = entry.action.rawValue
        oldPosition = entry.oldPosition.map(CursorPositionReport.init)
        oldChangeSequence = entry.oldChangeSequence
        newPosition = CursorPositionReport(entry.newPosition)
        movedBack = entry.movedBack
        fencedOwner = entry.fencedOwner
        by = entry.changedBy
        reason = entry.reason
        at = utc(entry.changedAt)
    }

    var lines: [String] {
        var lines = ["#\(id) \(at) \(action) \(stream) by \(by): \(reason)"]
        lines.append("  from \(oldPosition?.text ?? "(no cursor)")\(oldChangeSequence.map { ", change sequence \($0)" } ?? "")")
        lines.append("  to   \(newPosition.text)\(movedBack ? " — moved back: later records are read again" : "")")
        if let fencedOwner { lines.append("  fenced the lease holder \(fencedOwner)") }
        return lines
    }
}

struct CursorServerOption: ParsableArguments {
    @Option(help: "The server id (as in the servers table).") var server: String
}

struct CursorChangeOptions: ParsableArguments {
    @Option(help: "Why the cursor changes; kept in the audit.") var reason: String
    @Option(help: "Who changes it (default: $USER@hostname).") var by: String?
}

struct CursorGetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Show a server's cursors: position, records stored, last success and last error per stream."
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var target: CursorServerOption

    struct StreamReport: Encodable {
        let stream: String
        let position: CursorPositionReport
        let changeSequence: Int64?
        let recordsStored: Int64
        let updatedAt: String
        let lastSuccessAt: String?
        let lastErrorAt: String?
        let lastError: String?
    }

    struct Report: Encodable {
        let server: String
        let cursors: [StreamReport]
    }

    func run() async throws {
        do {
            let connection = try await database.connect()
            let cursors = try await CursorControl.cursors(serverID: target.server, on: connection)
            let report = Report(server: target.server, cursors: cursors.map { cursor in
                StreamReport(
                    stream: cursor.stream.rawValue, position: CursorPositionReport(cursor.position), changeSequence: cursor.changeSequence,
                    recordsStored: cursor.recordsStored, updatedAt: utc(cursor.updatedAt), lastSuccessAt: cursor.lastSuccessAt.map(utc),
                    lastErrorAt: cursor.lastErrorAt.map(utc), lastError: cursor.lastError)
            })
            if output.json {
                JSONOutput.print(report)
                return
            }
            print("server \(report.server)")
            if report.cursors.isEmpty { print("  no cursors yet: the server has not synced") }
            for cursor in report.cursors {
                print("  \(cursor.stream): \(cursor.position.text)\(cursor.changeSequence.map { ", change sequence \($0)" } ?? "")")
                print("    \(cursor.recordsStored) record(s) stored; updated \(cursor.updatedAt); last success \(cursor.lastSuccessAt ?? "never")")
                if let at = cursor.lastErrorAt { print("    last error \(at): \(cursor.lastError ?? "")") }
            }
        } catch {
            throw CursorCommand.report(error, json: output.json)
        }
    }
}

struct CursorSetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Move a stream's cursor to a server time (and ticket), forward or back.",
        discussion: """
            The next pull starts after (time, ticket): --time 2025-01-01T00:00 with the default --ticket 0 reads \
            everything from 2025-01-01 00:00 server time on.
            """
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var target: CursorServerOption
    @Option(help: "The stream: deals (MT5), trades or open_trades (MT4), accounts, changes.") var stream: String
    @Option(help: "Server time: YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS[.mmm]] or milliseconds since 1970.") var time: String
    @Option(help: "The ticket within that millisecond (records up to it count as read).") var ticket: UInt64 = 0
    @OptionGroup var change: CursorChangeOptions

    func validate() throws {
        _ = try ServerTimeArgument.milliseconds(time)
        try CursorCommand.validateStream(stream)
    }

    func run() async throws {
        do {
            let connection = try await database.connect()
            let position = CursorPosition(serverTimeMilliseconds: try ServerTimeArgument.milliseconds(time), ticket: ticket)
            let entry = try await CursorControl.set(
                serverID: target.server, stream: try CursorCommand.syncStream(stream), position: position, by: change.by ?? CursorCommand.defaultOperator(), reason: change.reason,
                on: connection)
            printChange(entry, json: output.json)
        } catch {
            throw CursorCommand.report(error, json: output.json)
        }
    }
}

struct CursorResetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract: "Move a stream's cursor back to the start: the server's whole history is read again."
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var target: CursorServerOption
    @Option(help: "The stream: deals (MT5), trades or open_trades (MT4), accounts, changes.") var stream: String
    @OptionGroup var change: CursorChangeOptions

    func validate() throws {
        try CursorCommand.validateStream(stream)
    }

    func run() async throws {
        do {
            let connection = try await database.connect()
            let entry = try await CursorControl.reset(
                serverID: target.server, stream: try CursorCommand.syncStream(stream), by: change.by ?? CursorCommand.defaultOperator(), reason: change.reason, on: connection)
            printChange(entry, json: output.json)
        } catch {
            throw CursorCommand.report(error, json: output.json)
        }
    }
}

private func printChange(_ entry: CursorAuditEntry, json: Bool) {
    let report = CursorAuditReport(entry)
    if json {
        JSONOutput.print(report)
    } else {
        report.lines.forEach { print($0) }
    }
}

struct CursorHistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List the audited changes of a server's cursors, newest first."
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var target: CursorServerOption
    @Option(help: "How many changes to list.") var limit = 50

    struct Report: Encodable {
        let server: String
        let changes: [CursorAuditReport]
    }

    func run() async throws {
        do {
            let connection = try await database.connect()
            let entries = try await CursorControl.history(serverID: target.server, limit: limit, on: connection)
            let report = Report(server: target.server, changes: entries.map(CursorAuditReport.init))
            if output.json {
                JSONOutput.print(report)
                return
            }
            if report.changes.isEmpty { print("no cursor changes recorded for \(report.server)") }
            for change in report.changes { change.lines.forEach { print($0) } }
        } catch {
            throw CursorCommand.report(error, json: output.json)
        }
    }
}
