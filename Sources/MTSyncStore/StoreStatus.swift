/// A snapshot of the store for `mtsync status`: schema version and how many rows each table holds.
public struct StoreStatus: Sendable, Codable, Equatable {
    public struct TableCount: Sendable, Codable, Equatable {
        public let table: String
        public let rows: Int64
        /// False when `rows` is PostgreSQL's planner estimate: counting a table of hundreds of millions of facts
        /// exactly would take minutes, so tables past `exactCountLimit` rows are estimated.
        public let exact: Bool

        public init(table: String, rows: Int64, exact: Bool) {
            self.table = table
            self.rows = rows
            self.exact = exact
        }
    }

    public let schemaVersion: Int
    public let latestKnownVersion: Int
    public let pendingMigrations: Int
    public let tables: [TableCount]
    /// What the fact table's monthly partitions cover (nil before migration 0012): facts from `endMonth` on are not
    /// stored until upkeep makes their months.
    public let partitions: FactPartitions.Horizon?
    /// Things an operator should look at (pending migrations, rows in the default fact partition, …).
    public let warnings: [String]

    /// Tables reported, in the order of the data flow.
    static let reportedTables = ["servers", "sync_cursors", "fact_identities", "trading_facts", "outbox", "quarantine", "drop_files", "jobs"]
    static let exactCountLimit: Int64 = 1_000_000

    public static func read(on connection: PostgresConnection, migrator: Migrator) async throws -> StoreStatus {
        let migrations = try await migrator.status(on: connection)
        var warnings: [String] = []
        if let problem = migrations.problem { warnings.append(problem.description) }
        if !migrations.pending.isEmpty {
            warnings.append("\(migrations.pending.count) migration(s) pending: run `mtsync migrate`")
        }
        let tables = try await connection.run { connection in
            var counts: [TableCount] = []
            for table in reportedTables {
                let exists = try connection.query("SELECT to_regclass(\(table)) IS NOT NULL", name: "find \(table)")
                guard try exists[0].decode(Bool.self, 0) else { continue }
                let estimate = try connection.query("""
                    SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint FROM pg_class c
                    WHERE c.oid = \(table)::regclass
                       OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = \(table)::regclass)
                    """, name: "estimate \(table)")[0].decode(Int64.self, 0)
                if estimate > exactCountLimit {
                    counts.append(TableCount(table: table, rows: estimate, exact: false))
                } else {
                    let rows = try connection.query("SELECT count(*) FROM \(identifier: table)", name: "count \(table)")[0].decode(Int64.self, 0)
                    counts.append(TableCount(table: table, rows: rows, exact: true))
                }
            }
            return counts
        }
        var partitions: FactPartitions.Horizon?
        if tables.contains(where: { $0.table == "trading_facts" }) {
            let strays = try await connection.query("SELECT count(*) FROM trading_facts_default", name: "count default partition")[0].decode(Int64.self, 0)
            if strays > 0 {
                warnings.append("\(strays) fact(s) sit in trading_facts_default: past months without their partition; `mtsync migrate` as the database owner makes them and moves the facts in (a daemon whose role may create tables does it by itself)")
            }
            let upkept = try await connection.query("SELECT to_regprocedure('trading_fact_partitions_end()') IS NOT NULL", name: "find partition upkeep")[0].decode(Bool.self, 0)
            if upkept {
                let horizon = try await FactPartitions.horizon(on: connection)
                if let warning = horizon.warning { warnings.append(warning) }
                partitions = horizon
            }
        }
        return StoreStatus(
            schemaVersion: migrations.currentVersion,
            latestKnownVersion: migrations.latestKnownVersion,
            pendingMigrations: migrations.pending.count,
            tables: tables,
            partitions: partitions,
            warnings: warnings
        )
    }
}
