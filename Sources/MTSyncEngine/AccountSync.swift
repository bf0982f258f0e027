import Logging
import MTSyncBridge
import MTSyncCore
import MTSyncStore

/// Reads a bridge server's accounts (bridge-protocol §4.4) into the account store, page by page: each record
/// validated (`AccountNormalizer`; a bad one is quarantined with its reason and the rest stored), the current state
/// and customer id stored and audited as made by `bridge:<server>`, and a new version kept whenever a group or
/// currency changes. Then the decisions catch up: stored facts the new versions decide differently, and held records
/// whose account arrived (`DecisionCatchUp`).
public struct AccountSync: Sendable {
    public let client: any BridgeSource
    public let connection: PostgresConnection
    public let batcher: RecordBatcher
    public let pageSize: Int

    public init(client: any BridgeSource, connection: PostgresConnection, batcher: RecordBatcher, pageSize: Int = 1_000) {
        self.client = client
        self.connection = connection
        self.batcher = batcher
        self.pageSize = pageSize
    }

    public var serverID: String { batcher.serverID.rawValue }

    public struct Report: Sendable, Hashable, Encodable {
        public var server: String
        public var accounts = 0
        public var changed = 0
        public var withoutCustomerID = 0
        public var quarantined = 0
        /// Held records decided because their account arrived, and those still waiting.
        public var released = 0
        public var stillPending = 0
        /// Stored facts decided again by a changed account (demo → real, or the other way).
        public var factsIncluded = 0
        public var factsExcluded = 0

        enum CodingKeys: String, CodingKey {
            case server, accounts, changed, quarantined, released
            case withoutCustomerID = "without_customer_id", stillPending = "still_pending"
            case factsIncluded = "facts_included", factsExcluded = "facts_excluded"
        }
    }

    public func pull() async throws -> Report {
        var report = Report(server: serverID)
        var after: UInt64?
        let pageSize = pageSize, server = serverID, zone = batcher.normalizer.settings.zone
        while !Task.isCancelled {
            let page = try await client.accountsPage(after: after, limit: pageSize)
            let (accounts, quarantine) = Self.validate(page.accounts, server: server, zone: zone, source: "tcp")
            report.accounts += accounts.count
            report.withoutCustomerID += accounts.filter { $0.clientID == nil }.count
            report.quarantined += quarantine.count
            report.changed += try await connection.transaction(name: "store accounts") { connection in
                for entry in quarantine { try entry.insert(on: connection) }
                return try AccountDirectory.store(server: server, accounts: accounts, changedBy: "bridge:\(server)", source: "tcp", on: connection)
            }
            // §4.4: `next` is the last login sent; a bridge that leaves it out is followed by its last record.
            guard page.more, let last = page.next ?? page.accounts.last?.login.flatMap({ UInt64($0) }), after.map({ last > $0 }) ?? true else { break }
            after = last
        }
        SyncMetric.recordsQuarantined.increment(by: report.quarantined, server, SyncStream.accounts.rawValue)
        try await StreamRefresh.record(server: server, stream: .accounts, records: report.accounts, on: connection)
        let caughtUp = try await DecisionCatchUp(batcher: batcher, connection: connection, platform: batcher.normalizer.settings.platform).run()
        report.add(caughtUp)
        return report
    }

    /// Splits raw account records into the valid ones and a quarantine entry for each one that is not.
    static func validate(_ raw: [RawAccountRecord], server: String, zone: ServerTimeZone, source: String, lineNumbers: [Int]? = nil) -> ([AccountRecord], [QuarantineEntry]) {
        var accounts: [AccountRecord] = [], quarantine: [QuarantineEntry] = []
        for (index, record) in raw.enumerated() {
            switch AccountNormalizer.normalize(record, zone: zone) {
            case .success(let account): accounts.append(account)
            case .failure(let rejection):
                quarantine.append(QuarantineEntry(
                    serverID: server, stream: SyncStream.accounts.rawValue, source: source, lineNumber: lineNumbers?[index],
                    reasonCode: rejection.code, reason: rejection.description, raw: RecordBatcher.rawBytes(of: record)))
            }
        }
        return (accounts, quarantine)
    }
}

extension AccountSync.Report {
    mutating func add(_ caughtUp: DecisionCatchUp.Report) {
        released += caughtUp.released
        stillPending += caughtUp.stillPending
        factsIncluded += caughtUp.factsIncluded
        factsExcluded += caughtUp.factsExcluded
    }
}
