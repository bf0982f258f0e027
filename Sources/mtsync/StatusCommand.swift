import ArgumentParser
import MTSyncApp
import MTSyncCore
import MTSyncStore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the store and every server: cursors, lag, last success and error, lease, quarantine, outbox backlog, last reconcile.",
        discussion: """
            Per server and stream: the cursor (server time and UTC), its lag behind the database clock, records \
            stored, the last success and the last error (FAILING when the error is newer). Per server: the lease \
            holder, open quarantine entries, the outbox backlog (pending, oldest age, parked) and the last reconcile. \
            Large tables (over a million rows) show PostgreSQL's estimate, marked with ~, instead of a slow exact count. \
            Lag grows on a quiet server too (nights, weekends): alert on it together with the last error.
            """
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Only this server.") var server: String?
    @Option(help: "Warn about records that have waited for their account longer than this (default 1h, as the servers' pending_warn_after).")
    var pendingWarnAfter: String = "1h"

    func validate() throws {
        guard DurationText.parse(pendingWarnAfter) != nil else { throw ValidationError("--pending-warn-after must be a duration such as 30m or 2h, not \(pendingWarnAfter)") }
    }

    func run() async throws {
        do {
            let connection = try await database.connect()
            let status = try await StoreStatus.read(on: connection, migrator: try Migrator.embedded())
            // Servers exist once the schema has them (a fresh database before `migrate` has none).
            let servers = status.schemaVersion >= 4 ? try await ServerStatus.read(serverID: server, countExcluded: true, on: connection) : []
            let feed = status.schemaVersion >= 8 ? try await DailyFeedStore.status(on: connection) : nil
            let snapshots = status.schemaVersion >= 11 ? try await SnapshotStore.status(on: connection) : nil
            if let server, servers.isEmpty {
                throw ValidationError("no server \(String(reflecting: server)) is registered in this database (servers appear after their first sync)")
            }
            let transport = await connection.transport
            if output.json {
                JSONOutput.print(StatusReport(
                    mtsyncVersion: BuildInfo.version, database: database.configuration.description, databaseTransport: transport?.description,
                    store: status, servers: servers, feed: feed, snapshots: snapshots))
            } else {
                print("mtsync \(BuildInfo.version) — database \(database.configuration) over \(transport?.description ?? "?")")
                if transport?.exposesTraffic == true { print("Warning: \(PostgresTransport.advice)") }
                print("Schema version \(status.schemaVersion) of \(status.latestKnownVersion)\(status.pendingMigrations > 0 ? " (\(status.pendingMigrations) pending)" : "")")
                if !status.tables.isEmpty {
                    let width = status.tables.map(\.table.count).max() ?? 0
                    for table in status.tables {
                        let name = table.table.padding(toLength: width, withPad: " ", startingAt: 0)
                        print("  \(name)  \(table.exact ? "" : "~")\(table.rows)")
                    }
                }
                if let partitions = status.partitions {
                    print("Fact partitions \(partitions.firstMonth ?? "-") … \(partitions.endMonth) (not included): \(partitions.monthsAhead) month(s) ahead of this one, \(partitions.partitions) partition(s)")
                }
                for warning in status.warnings { print("Warning: \(warning)") }
                let warnAfter = Int64(DurationText.parse(pendingWarnAfter)?.components.seconds ?? 3_600)
                for line in ServerStatusText.lines(servers, pendingWarnAfterSeconds: warnAfter) { print(line) }
                if let feed { for line in ServerStatusText.lines(feed) { print(line) } }
                if let snapshots, snapshots.rowsQueued > 0 || snapshots.customersToCompute > 0 || snapshots.customersHeld > 0 {
                    print("  snapshots   \(snapshots.rowsQueued) row(s) queued so far, \(snapshots.customersToCompute) customer(s) to decide"
                        + (snapshots.customersHeld > 0 ? ", \(snapshots.customersHeld) held: \(TerminalText.printable(snapshots.heldReason, absent: ""))" : ""))
                }
            }
        } catch {
            throw CommandFailure.report(error, json: output.json)
        }
    }
}

struct StatusReport: Encodable {
    let mtsyncVersion: String
    let database: String
    /// `local socket`, `TLS (TLSv1.3)` or `plain TCP, not encrypted`.
    let databaseTransport: String?
    let store: StoreStatus
    let servers: [ServerStatus]
    /// The loyalty platform's daily feed (docs/ingest.md, "The daily feed").
    let feed: DailyFeedStore.Status?
    /// Its tier snapshots (docs/ingest.md, "Tier snapshots").
    let snapshots: SnapshotStore.Status?
}

/// `mtsync status` for people: one block per server.
enum ServerStatusText {
    /// The daily feed's block: held logins first (they need an operator), then what waits to be sent.
    static func lines(_ feed: DailyFeedStore.Status) -> [String] {
        var lines = ["", "daily feed"]
        lines.append("  held        \(feed.heldLogins) login(s) without a customer id (\(feed.heldLoginDays) day(s) waiting; mtsync accounts import releases them)")
        if feed.heldCustomerDays > 0 { lines.append("  held        \(feed.heldCustomerDays) customer day(s): \(feed.heldReason ?? "")") }
        lines.append("  to decide   \(feed.markedLoginDays) login day(s), \(feed.customerDaysToCompute) customer day(s)")
        let oldest = feed.oldestPendingSeconds.map { ", oldest \(age(Int64($0)))" } ?? ""
        lines.append("  batches     \(feed.batchesPending) pending\(oldest), \(feed.batchesParked) parked, \(feed.batchesSent) sent (\(feed.rowsSent) rows)")
        return lines
    }

    static func lines(_ servers: [ServerStatus], pendingWarnAfterSeconds: Int64 = 3_600) -> [String] {
        var lines: [String] = []
        for server in servers {
            lines.append("")
            lines.append("\(server.serverID) (\(server.platform), \(server.timeZone))\(server.enabled ? "" : " DISABLED")")
            lines += leaseLines(server)
            for stream in server.streams { lines += streamLines(stream) }
            lines += storeLines(server, pendingWarnAfterSeconds: pendingWarnAfterSeconds)
        }
        return lines
    }

    /// Who holds the server's lease, and whether its process still lives.
    static func leaseLines(_ server: ServerStatus) -> [String] {
        var lines: [String] = []
        if let lease = server.lease {
            let state = lease.released ? "released" : lease.live ? "expires in \(age(lease.remainingMilliseconds / 1000))" : "EXPIRED \(age(-lease.remainingMilliseconds / 1000)) ago"
            let holder = lease.host.map { host in "\(lease.owner) (host \(host), pid \(lease.pid.map(String.init) ?? "?"))" } ?? lease.owner
            // A live lease whose process is gone: killed or crashed. Its instance takes it back when it starts
            // again; another instance when it expires.
            let gone = lease.live && !lease.processAlive ? "; its process is gone (its instance takes it back at once when it starts)" : ""
            lines.append("  lease       \(holder), generation \(lease.generation), \(state)\(gone)")
        } else {
            lines.append("  lease       never taken")
        }
        return lines
    }

    /// A stream's cursor (or, for the streams read whole, when it was read), its lag and its last error or warning.
    static func streamLines(_ stream: ServerStatus.Stream) -> [String] {
        var lines: [String] = []
        // Snapshot streams are read whole, not by position: when, and how many records in all.
        if ["accounts", "symbols", "open_trades"].contains(stream.stream) {
            let label = stream.stream.replacingOccurrences(of: "_", with: " ").padding(toLength: 11, withPad: " ", startingAt: 0)
            var line = "  \(label) last read \(stream.lastSuccessAtMilliseconds.map(instant) ?? "never"), \(stream.recordsStored) record(s) read in all"
            if stream.failing, let at = stream.lastErrorAtMilliseconds { line += "; FAILING \(instant(at)): \(TerminalText.printable(stream.lastError, absent: ""))" }
            lines.append(line)
            return lines
        }
        var position = "\(stream.stream)"
        if stream.stream == "changes" {
            position += " sequence \(stream.changeSequence.map(String.init) ?? "-")"
        } else if stream.positionServerMilliseconds > 0 {
            position += " at \(ServerTimeText.iso8601(milliseconds: stream.positionServerMilliseconds)) server time, ticket \(stream.positionTicket)"
        } else {
            position += " not started"
        }
        lines.append("  cursor      \(position)")
        var details: [String] = []
        if let utc = stream.positionUTCMilliseconds { details.append("= \(ServerTimeText.iso8601(milliseconds: utc))Z") }
        if let lag = stream.lagSeconds { details.append("lag \(age(lag))") }
        details.append("\(stream.recordsStored) record(s) through it")
        details.append("last success \(stream.lastSuccessAtMilliseconds.map(instant) ?? "never")")
        lines.append("              " + details.joined(separator: ", "))
        if let at = stream.lastErrorAtMilliseconds {
            lines.append("              \(stream.failing ? "FAILING" : "last error") \(instant(at)): \(TerminalText.printable(stream.lastError, absent: ""))")
        }
        if let at = stream.lastWarningAtMilliseconds {
            lines.append("              bridge warning \(instant(at)): \(TerminalText.printable(stream.lastWarning, absent: ""))")
        }
        return lines
    }

    /// What waits in the store: quarantine, held records, exclusions, the outbox, aggregates, reconcile, jobs.
    static func storeLines(_ server: ServerStatus, pendingWarnAfterSeconds: Int64) -> [String] {
        var lines: [String] = []
        lines.append("  quarantine  \(server.openQuarantine) open")
        if server.pending.records > 0 {
            let oldest = Int64(server.pending.oldestSeconds ?? 0)
            let warning = oldest > pendingWarnAfterSeconds ? "WARNING " : ""
            lines.append("  pending     \(warning)\(server.pending.records) record(s) of \(server.pending.logins) login(s) wait for their account, oldest \(age(oldest))"
                + " (\(server.pending.accountUnknown) account unknown, \(server.pending.groupUnknown) without a group)")
        } else {
            lines.append("  pending     none")
        }
        if let excluded = server.excluded {
            let reasons = excluded.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
            lines.append("  excluded    \(excluded.isEmpty ? "none" : reasons.joined(separator: ", ")) (stored, never sent)")
        }
        lines.append("  outbox      \(server.outbox.pending) pending\(server.outbox.pending > 0 ? " (oldest \(age(server.outbox.oldestPendingAgeSeconds)))" : ""), \(server.outbox.parked) parked")
        lines.append("  aggregates  \(server.aggregateHoursWaiting) trader-hour(s) waiting for aggregate.hourly")
        if let reconcile = server.lastReconcile {
            var text = "\(reconcile.state) \(reconcile.finishedAtMilliseconds.map(instant) ?? "(running)")"
            text += " over \(ServerTimeText.iso8601(milliseconds: reconcile.rangeFromServerMilliseconds)) – \(ServerTimeText.iso8601(milliseconds: reconcile.rangeToServerMilliseconds))"
            if let outcome = reconcile.outcome {
                text += ": \(outcome.differing) of \(outcome.buckets) bucket(s) differed; \(outcome.inserted) inserted, \(outcome.updated) updated, \(outcome.deleted) deleted"
            }
            if let error = reconcile.error { text += ": \(error)" }
            lines.append("  reconcile   \(text)")
        } else {
            lines.append("  reconcile   never")
        }
        if server.liveJobs > 0 { lines.append("  jobs        \(server.liveJobs) running or pending") }
        return lines
    }

    static func instant(_ milliseconds: Int64) -> String {
        ServerTimeText.iso8601(milliseconds: milliseconds) + "Z"
    }

    /// A duration in seconds as people read it: 42s, 5m 3s, 3h 2m, 2d 4h.
    static func age(_ seconds: Int64) -> String {
        let seconds = max(0, seconds)
        switch seconds {
        case ..<60: return "\(seconds)s"
        case ..<3600: return "\(seconds / 60)m \(seconds % 60)s"
        case ..<86_400: return "\(seconds / 3600)h \(seconds % 3600 / 60)m"
        default: return "\(seconds / 86_400)d \(seconds % 86_400 / 3600)h"
        }
    }
}
