import MTSyncCore

/// One record read from a drop file, typed by the file's stream.
public enum DropRecord: Sendable, Hashable {
    case deal(MT5DealRecord)
    case trade(MT4TradeRecord)
    case account(RawAccountRecord)
    /// A `symbols` row: the fields as the `symbols` method sends them (§4.5).
    case symbol(RawSymbolRecord)
    /// A `daily` row (§4.8).
    case daily(RawDailyRecord)
    /// A `changes` row: an edit or deletion (§7.1).
    case change(BridgeChange)
}

/// A data row that cannot become a record: quarantined with its line number, reason and raw bytes, while the
/// rest of the file is stored (bridge-protocol/README.md §7.4).
public struct DropRowProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public let lineNumber: Int
    /// Stable, for counting: `csv_syntax`, `column_count`, `missing_identity`, `bad_identity`.
    public let code: String
    public let reason: String
    public let raw: [UInt8]

    public var description: String { "line \(lineNumber): \(reason)" }
}

/// Turns the rows of one drop file into records, by the column names of its header (§7.2: the record's field
/// names in any order; unknown columns ignored; an empty field is an absent value).
///
/// It checks only what makes a row a record: the column count, and the identity fields (ticket, login, time)
/// as unsigned integers, since a row without its identity cannot even be deduplicated. Every other field is
/// validated by normalization, exactly as for records that arrive over TCP.
public struct DropRowDecoder: Sendable {
    public let stream: DropStream
    /// The header's column names, in file order.
    public let columns: [String]
    private let identityColumns: [(name: String, column: Int)]

    /// The fields each stream's rows must carry as unsigned integers.
    static func identityFields(of stream: DropStream) -> [String] {
        switch stream {
        case .deals: ["Deal", "Login", "TimeMsc"]
        case .trades: ["order", "login", "close_time"]
        case .openTrades: ["order", "login"]
        case .accounts: ["login"]
        case .symbols: []
        case .daily: ["login"]
        case .changes: ["seq"]
        }
    }

    /// Reads the header row. Throws when it lacks an identity column or names a column twice.
    public init(stream: DropStream, header: CSVParser.Row) throws(DropFileProblem) {
        self.stream = stream
        columns = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        var seen = Set<String>()
        for name in columns where !name.isEmpty {
            guard seen.insert(name).inserted else {
                throw DropFileProblem(code: .noHeader, "the header names the column \(String(reflecting: name)) twice")
            }
        }
        var identity: [(String, Int)] = []
        for name in Self.identityFields(of: stream) {
            guard let column = columns.firstIndex(of: name) else {
                throw DropFileProblem(code: .noHeader, "the header of a \(stream.rawValue) file must have the column \(name) (first line: the field names, bridge-protocol/README.md §7.2)")
            }
            identity.append((name, column))
        }
        if stream == .symbols, !columns.contains("symbol") {
            throw DropFileProblem(code: .noHeader, "the header of a symbols file must have the column symbol")
        }
        if stream == .daily, !columns.contains("day") {
            throw DropFileProblem(code: .noHeader, "the header of a daily file must have the column day")
        }
        if stream == .changes {
            // The record's identity names its platform: `Deal` for MT5 deals, `order` for MT4 trades (§7.1).
            guard columns.contains("op"), columns.contains("Deal") != columns.contains("order") else {
                throw DropFileProblem(code: .noHeader, "the header of a changes file must have the columns seq, op and either Deal (MT5) or order (MT4) (bridge-protocol/README.md §7.1)")
            }
        }
        identityColumns = identity
    }

    public func decode(_ row: CSVParser.Row) -> Result<DropRecord, DropRowProblem> {
        func problem(_ code: String, _ reason: String) -> Result<DropRecord, DropRowProblem> {
            .failure(DropRowProblem(lineNumber: row.lineNumber, code: code, reason: reason, raw: row.raw))
        }
        guard row.fields.count == columns.count else {
            return problem("column_count", "the row has \(row.fields.count) fields; the header has \(columns.count)")
        }
        for (name, column) in identityColumns {
            let value = row.fields[column]
            if value.isEmpty { return problem("missing_identity", "\(name) is empty") }
            guard value.utf8.count <= 20, UInt64(value) != nil else {
                return problem("bad_identity", "\(name) \(String(reflecting: value)) is not an unsigned integer")
            }
        }
        switch stream {
        case .deals:
            return .success(.deal(fill(MT5DealRecord(), row)))
        case .trades, .openTrades:
            return .success(.trade(fill(MT4TradeRecord(), row)))
        case .accounts:
            return .success(.account(fill(RawAccountRecord(), row)))
        case .symbols:
            guard let index = columns.firstIndex(of: "symbol"), !row.fields[index].isEmpty else {
                return problem("missing_identity", "symbol is empty")
            }
            return .success(.symbol(fill(RawSymbolRecord(), row)))
        case .daily:
            return .success(.daily(fill(RawDailyRecord(), row)))
        case .changes:
            guard let opColumn = columns.firstIndex(of: "op"), let operation = BridgeChange.Operation(rawValue: row.fields[opColumn]) else {
                return problem("bad_identity", "op must be update or delete")
            }
            let sequence = Int64(row.fields[identityColumns[0].column]) ?? 0
            let isDeal = columns.contains("Deal")
            let ticket = row.fields[columns.firstIndex(of: isDeal ? "Deal" : "order")!]
            guard !ticket.isEmpty, ticket.utf8.count <= 20, UInt64(ticket) != nil else {
                return problem(ticket.isEmpty ? "missing_identity" : "bad_identity", "\(isDeal ? "Deal" : "order") \(String(reflecting: ticket)) is not an unsigned integer")
            }
            let record: BridgeChange.Record = isDeal ? .deal(fill(MT5DealRecord(), row)) : .trade(fill(MT4TradeRecord(), row))
            return .success(.change(BridgeChange(sequence: sequence, operation: operation, record: record)))
        }
    }

    private func fill<Record: RawFieldRecord>(_ empty: Record, _ row: CSVParser.Row) -> Record {
        var record = empty
        for (column, name) in columns.enumerated() {
            let value = row.fields[column]
            if !value.isEmpty, let index = Record.fieldIndex[name] { record.set(fieldAt: index, value) }
        }
        return record
    }
}
