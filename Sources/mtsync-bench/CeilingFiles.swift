import Foundation
import MTBridgeSimulator
import MTSyncApp
import MTSyncCore
import MTSyncEngine
import MTSyncStore

/// `mtsync-bench ceiling`: writes what the database alone must do for a backfill of the simulator's MT5 history,
/// so that scripts/bench can time it with psql as the ceiling mtsync is measured against:
///
/// - `facts.tsv`, `sources.tsv`: the exact COPY text `FactStore.store` streams into its staging tables, made by
///   the same code path (the server's configured normalizer, `RecordBatcher`, `FactStore.stagingText`), page by
///   page as a backfill pages it (one-day chunks, `page_size` records a page);
/// - `setup.sql`: registers the server and makes the fact partitions of its months, as upkeep does (not timed);
/// - `ceiling.sql`: one transaction that `\copy`s both files into the staging tables and runs
///   `FactStore.Statements`, the very merge `FactStore.store` runs, once over all rows;
/// - `plain-setup.sql`, `plain.sql`: (2b), the same fact rows (`facts.tsv`) loaded idempotently into one keyed
///   table (`writePlainLoad`).
struct CeilingFiles {
    var configPath: String
    var serverID: String
    var seed: UInt64 = 1
    var firstDay: Int64 = 20_089  // 2025-01-01, mtbridge-sim's default
    var days: Int
    var dealsPerDay: Int
    var logins = 20
    var output: String

    init(arguments: [String]) throws {
        var options: [String: String] = [:]
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let name = arguments[index]
            guard name.hasPrefix("--"), index + 1 < arguments.endIndex else { throw UsageError(text: "unexpected \(name)") }
            options[String(name.dropFirst(2))] = arguments[index + 1]
            index += 2
        }
        func required(_ name: String) throws -> String {
            guard let value = options.removeValue(forKey: name) else { throw UsageError(text: "--\(name) is required") }
            return value
        }
        func number<T: FixedWidthInteger>(_ name: String, _ type: T.Type) throws -> T? {
            guard let text = options.removeValue(forKey: name) else { return nil }
            guard let value = T(text) else { throw UsageError(text: "--\(name) must be a whole number") }
            return value
        }
        configPath = try required("config")
        serverID = try required("server")
        output = try required("out")
        guard let days = try number("days", Int.self), let dealsPerDay = try number("deals-per-day", Int.self) else {
            throw UsageError(text: "--days and --deals-per-day are required")
        }
        self.days = days
        self.dealsPerDay = dealsPerDay
        if let seed = try number("seed", UInt64.self) { self.seed = seed }
        if let logins = try number("logins", Int.self) { self.logins = logins }
        if let firstDay = try number("first-day", Int64.self) { self.firstDay = firstDay }
        guard options.isEmpty else { throw UsageError(text: "unknown option(s): \(options.keys.sorted().map { "--\($0)" }.joined(separator: " "))") }
    }

    struct UsageError: Error, CustomStringConvertible {
        var text: String
        var description: String {
            "\(text)\nusage: mtsync-bench ceiling --config FILE --server S --days D --deals-per-day N --out DIR [--seed 1] [--logins 20] [--first-day 20089]"
        }
    }

    /// Writes the files; returns (records, facts) written.
    func write() throws -> (records: Int, facts: Int) {
        let configuration = try MTSyncConfiguration.load(path: configPath)
        guard let server = configuration.servers.first(where: { $0.id.rawValue == serverID }) else {
            throw UsageError(text: "no server \(serverID) in \(configPath)")
        }
        guard server.platform == .mt5 else { throw UsageError(text: "the ceiling is measured for MT5 deals") }
        let batcher = RecordBatcher(normalizer: Normalizer(settings: try server.normalizerSettings()))
        let dataset = SimulatedDataset(.init(seed: seed, serverID: serverID, firstDay: firstDay, days: days, dealsPerDay: dealsPerDay, logins: logins, platform: .mt5))
        // The accounts the bridge serves, as the store would have them when it decides each page's facts.
        var histories: [UInt64: AccountHistory] = [:]
        for account in dataset.accounts { histories[account.login] = AccountHistory(always: AccountState(group: account.group, currency: account.currency)) }

        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let factsPath = output + "/facts.tsv", sourcesPath = output + "/sources.tsv"
        let facts = try FileSink(path: factsPath), sources = try FileSink(path: sourcesPath)
        var records = 0, factRows = 0
        for day in firstDay..<firstDay + Int64(days) {
            let deals = dataset.deals(onDay: day)
            var start = deals.startIndex
            while start < deals.endIndex {
                let end = min(start + server.sync.pageSize, deals.endIndex)
                let batch = batcher.batch(deals: Array(deals[start..<end]), cursor: nil)
                let text = try FactStore.stagingText(of: batch, histories: histories)
                try facts.write(text.facts)
                try sources.write(text.sources)
                records += end - start
                factRows += text.facts.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
                start = end
            }
        }
        try facts.close()
        try sources.close()

        let literal = { (text: String) in "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
        try """
            INSERT INTO servers (server_id, platform, time_zone) VALUES (\(literal(serverID)), 'mt5', \(literal(server.zoneName)));
            SELECT ensure_trading_fact_partitions(\(literal(ServerTimeText.iso8601(milliseconds: (firstDay - 1) * 86_400_000) + "Z")), \(literal(ServerTimeText.iso8601(milliseconds: (firstDay + Int64(days) + 1) * 86_400_000) + "Z")));

            """.write(toFile: output + "/setup.sql", atomically: true, encoding: .utf8)
        let sourcesMerge = FactStore.Statements.mergeSourceRecords
            .replacingOccurrences(of: "$1", with: literal(serverID))
            .replacingOccurrences(of: "$2", with: literal(SyncStream.deals.rawValue))
        let statements = [
            FactStore.Statements.mergeIdentities, FactStore.Statements.removeReplacedRevisions,
            FactStore.Statements.storeRevisions, sourcesMerge,
        ]
        try """
            \\set ON_ERROR_STOP on
            BEGIN;
            \(FactStore.Statements.prepareStaging)
            \\copy mtsync_staged_facts FROM '\(factsPath)'
            \\copy mtsync_staged_sources FROM '\(sourcesPath)'
            \(statements.joined(separator: ";\n"));
            COMMIT;

            """.write(toFile: output + "/ceiling.sql", atomically: true, encoding: .utf8)
        try writePlainLoad(factsPath: factsPath)
        return (records, factRows)
    }

    /// (2b), the plain idempotent load (issue 23): the same staged fact rows, `COPY` into an unlogged table of the
    /// same columns and `INSERT … SELECT … ON CONFLICT DO NOTHING` into one table keyed by the fact's identity with
    /// its primary key only — what loading this data idempotently costs without the design's other tables, marks
    /// and indexes. `plain-setup.sql` makes the two tables (not timed); `plain.sql` is the timed load.
    ///
    /// The staged rows are the fact's own columns (from 0015 to 0020 they also carried the outbox payload's head,
    /// which (2b) left out: the anchor must not move with the design it measures).
    func writePlainLoad(factsPath: String) throws {
        let staging = FactStore.Statements.prepareStaging
        guard let start = staging.range(of: "CREATE TEMP TABLE IF NOT EXISTS mtsync_staged_facts ("),
              let end = staging.range(of: ") ON COMMIT DELETE ROWS;", range: start.upperBound..<staging.endIndex)
        else { throw UsageError(text: "the store's staging statement no longer creates mtsync_staged_facts as this benchmark expects") }
        let columns = String(staging[start.upperBound..<end.lowerBound])
        try """
            \\set ON_ERROR_STOP on
            CREATE UNLOGGED TABLE plain_staged_facts (\(columns));
            CREATE TABLE plain_facts (LIKE plain_staged_facts);
            ALTER TABLE plain_facts ADD PRIMARY KEY (server_id, ticket, leg);

            """.write(toFile: output + "/plain-setup.sql", atomically: true, encoding: .utf8)
        try """
            \\set ON_ERROR_STOP on
            BEGIN;
            \\copy plain_staged_facts FROM '\(factsPath)'
            INSERT INTO plain_facts SELECT * FROM plain_staged_facts ON CONFLICT DO NOTHING;
            COMMIT;

            """.write(toFile: output + "/plain.sql", atomically: true, encoding: .utf8)
    }
}

/// Appends bytes to a new file.
final class FileSink {
    private let handle: FileHandle

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }

    func write(_ bytes: [UInt8]) throws { try handle.write(contentsOf: Data(bytes)) }
    func close() throws { try handle.close() }
}
