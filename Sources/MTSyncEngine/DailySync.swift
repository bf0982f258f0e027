import Foundation
import MTSyncBridge
import MTSyncCore
import MTSyncStore

/// Reads a bridge server's end-of-day records (bridge-protocol §4.8) into the store: every record validated (a bad
/// one, or one of a login of which no account was ever sent, is quarantined with the reason), a corrected one
/// replacing the earlier. Each read covers the days from `lookback` before the last day read (the server recomputes
/// recent days after late deals) to the bridge's clock.
public struct DailySync: Sendable {
    public let client: any BridgeSource
    public let connection: PostgresConnection
    public let serverID: ServerID
    public let zone: ServerTimeZone
    /// Where the history starts (server time, ms): the first read begins here.
    public let startMilliseconds: Int64
    public var lookback: Duration = .seconds(7 * 86_400)
    public var pageSize = 1_000

    public init(client: any BridgeSource, connection: PostgresConnection, serverID: ServerID, zone: ServerTimeZone, startMilliseconds: Int64) {
        self.client = client
        self.connection = connection
        self.serverID = serverID
        self.zone = zone
        self.startMilliseconds = startMilliseconds
    }

    public struct Report: Sendable, Hashable {
        public var records = 0
        public var changed = 0
        public var quarantined = 0
    }

    /// Reads the days from the last one read (less `lookback`) up to `serverNow` (the bridge's clock).
    public func pull(serverNowMilliseconds serverNow: Int64) async throws -> Report {
        let day: Int64 = 86_400_000
        let last = try await connection.run { connection in try FactStore.cursor(serverID: serverID, stream: .daily, on: connection) }
        let lookbackDays = max(1, lookback.components.seconds / 86_400)
        // Checked: the clock is the plausible one (`ServerSync.serverClock`), but no reading may trap here.
        let back = lookbackDays.multipliedReportingOverflow(by: day), end = (serverNow / day + 1).multipliedReportingOverflow(by: day)
        let from = max(startMilliseconds / day * day, last.serverTimeMilliseconds.saturatingSubtracting(back.overflow ? .max : back.partialValue))
        let report = try await read(fromMilliseconds: from, toMilliseconds: end.overflow ? .max : end.partialValue)
        try await StreamRefresh.record(server: serverID.rawValue, stream: .daily, records: report.records, on: connection)
        return report
    }

    /// Reads the server days starting in `[from, to)` (server time): a pull's window, or a backfill's range. The
    /// stream's position only moves forward, so a backfill of older days leaves it where it was.
    public func read(fromMilliseconds from: Int64, toMilliseconds to: Int64) async throws -> Report {
        let day: Int64 = 86_400_000
        let server = serverID.rawValue
        var report = Report()
        var after: DailyPosition?
        let pageSize = self.pageSize, zone = self.zone
        while !Task.isCancelled, from < to {
            let page = try await client.dailyPage(fromMilliseconds: from, toMilliseconds: to, after: after, limit: pageSize)
            report.records += page.records.count
            let lastDay = page.records.compactMap { $0.day.flatMap { CivilDate.days(parsing: $0) } }.max()
            let stored = try await connection.transaction(name: "store daily records") { connection in
                let stored = try Self.store(page.records, server: server, zone: zone, source: "tcp", on: connection)
                // The daily stream's position: the start of the last server day read (only forward).
                if let lastDay {
                    try FactStore.store(PageBatch(serverID: serverID, stream: .daily, cursor: CursorPosition(serverTimeMilliseconds: lastDay * day, ticket: 0)), on: connection)
                }
                return stored
            }
            report.quarantined += stored.quarantined
            report.changed += stored.changed
            guard page.more, let next = page.next else { break }
            if let after, (next.day, next.login) <= (after.day, after.login) { break }
            after = next
        }
        SyncMetric.recordsQuarantined.increment(by: report.quarantined, server, SyncStream.daily.rawValue)
        return report
    }

    /// Validates and stores raw daily records inside the caller's transaction (the TCP page's or the drop file's);
    /// quarantines the bad ones and those of unknown logins. Returns how many were quarantined, and how many were new
    /// or different from what the store held.
    static func store(
        _ raw: [RawDailyRecord], server: String, zone: ServerTimeZone, source: String, on connection: isolated PostgresConnection
    ) throws -> (quarantined: Int, changed: Int) {
        var closings: [DailyRecords.Closing] = [], rawByKey: [String: RawDailyRecord] = [:]
        var quarantined = 0
        func quarantine(_ record: RawDailyRecord, code: String, reason: String) throws {
            if try QuarantineEntry(
                serverID: server, stream: SyncStream.daily.rawValue, source: source, lineNumber: nil, reasonCode: code, reason: reason,
                raw: RecordBatcher.rawBytes(of: record)
            ).insert(on: connection) { quarantined += 1 }
        }
        for record in raw {
            switch record.normalized() {
            case .success(let daily):
                // The server day ends at the next midnight of the server's clock.
                let close = zone.utcMilliseconds(fromServerMilliseconds: (daily.day + 1) * 86_400_000).utcMilliseconds
                closings.append(DailyRecords.Closing(record: daily, closeUTCMilliseconds: close))
                rawByKey["\(daily.login)|\(daily.dayText)"] = record
            case .failure(let rejection):
                try quarantine(record, code: rejection.code, reason: rejection.description)
            }
        }
        let (changed, unknown) = try DailyRecords.store(server: server, records: closings, source: source, on: connection)
        for closing in unknown {
            guard let record = rawByKey["\(closing.record.login)|\(closing.record.dayText)"] else { continue }
            try quarantine(record, code: "unknownLogin", reason: "no account of login \(closing.record.login) was ever sent (bridge-protocol §4.8: accounts come first); it is stored when the daily stream is read again after the account arrives")
        }
        return (quarantined, changed)
    }
}
