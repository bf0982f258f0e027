import Foundation
import MTSyncBridge
import MTSyncCore

/// The CSV drop reader (bridge-protocol/README.md §7) on a fuzzed file: `CSVParser` rows, the header and row
/// decoding of every stream (`DropRowDecoder`), the manifest (`DropManifest.decode`) and the file name
/// (`DropFileName`, from the input's first line). The same bytes go to all of them: the seed corpus holds CSV
/// files and manifests, and mutations move between the two.
///
/// Besides "no trap":
/// - how the file is split into chunks never changes the rows;
/// - rows come in line order, each within the row limit (memory stays bounded), a malformed one with a reason;
/// - a row's fields written back as CSV read as the same fields, and so does the raw line quarantine keeps;
/// - a row is its stream's record with a usable identity, or a quarantine entry with a known code;
/// - a manifest that decodes satisfies its checks and survives re-encoding; a file name rebuilds from its parts.
enum CSVDropProperties {
    static let csvName = "deals-20250101T000000-20250102T000000-0001.csv"
    static let serverID = "live-mt5"
    static let rowProblemCodes: Set<String> = ["column_count", "missing_identity", "bad_identity"]

    static func check(_ input: UnsafeBufferPointer<UInt8>) throws(PropertyViolation) -> FuzzOutcome {
        var outcome = FuzzOutcome()
        let whole = parse(input, chunkSizes: [Int.max])
        let hash = FuzzOutcome.hash(input)
        let chunkSizes = [1 + Int(hash % 7), 1 + Int((hash >> 8) % 61), 1 + Int((hash >> 16) % 3)]
        let chunked = parse(input, chunkSizes: chunkSizes)
        try require(chunked == whole, "how the file is split into chunks never changes the rows", "chunks \(chunkSizes)")
        try checkOrder(whole, limit: 1 << 20)
        let limit = 1 + Int((hash >> 24) % 96)
        try checkOrder(parse(input, chunkSizes: [Int.max], maximumRowBytes: limit), limit: limit)
        for (index, output) in whole.enumerated() {
            switch output {
            case .row(let row):
                // The first rows only: each round trip parses twice more.
                if index < 8 { try checkRoundTrip(row) }
                outcome.add(row.fields.count)
            case .malformed(let problem):
                outcome.add(String(problem.reason.prefix(24)))
            }
        }
        try checkRecords(whole, outcome: &outcome)
        try checkManifest(input, outcome: &outcome)
        try checkFileName(input, outcome: &outcome)
        return outcome
    }

    /// Feeds `bytes` in chunks of the given sizes, in turn. (Chunks are buffer pointers: `feed` is generic and
    /// not specialized across modules, and iterating nested slices byte by byte would dominate the run.)
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, chunkSizes: [Int], maximumRowBytes: Int = 1 << 20) -> [CSVParser.Output] {
        var parser = CSVParser(maximumRowBytes: maximumRowBytes)
        var outputs: [CSVParser.Output] = []
        var offset = 0
        var turn = 0
        while offset < bytes.count {
            let end = offset + min(chunkSizes[turn % chunkSizes.count], bytes.count - offset)
            parser.feed(UnsafeBufferPointer(rebasing: bytes[offset..<end])) { outputs.append($0) }
            offset = end
            turn += 1
        }
        parser.finish { outputs.append($0) }
        return outputs
    }

    static func parse(_ bytes: [UInt8]) -> [CSVParser.Output] {
        bytes.withUnsafeBufferPointer { parse($0, chunkSizes: [Int.max]) }
    }

    static func checkOrder(_ outputs: [CSVParser.Output], limit: Int) throws(PropertyViolation) {
        var previous = 0
        for output in outputs {
            switch output {
            case .row(let row):
                try require(row.lineNumber > previous, "rows come in line order", "line \(row.lineNumber) after \(previous)")
                try require(row.raw.count <= limit, "a row keeps at most the row limit", "\(row.raw.count) > \(limit)")
                try require(!row.fields.isEmpty, "a row has at least one field")
                previous = row.lineNumber
            case .malformed(let problem):
                try require(problem.lineNumber > previous, "rows come in line order", "line \(problem.lineNumber) after \(previous)")
                try require(problem.raw.count <= limit, "a malformed row keeps at most the row limit", "\(problem.raw.count) > \(limit)")
                try require(!problem.reason.isEmpty, "a malformed row says why")
                previous = problem.lineNumber
            }
        }
    }

    /// The fields, written back as RFC 4180 (every field quoted), read as the same fields; so does the raw line.
    static func checkRoundTrip(_ row: CSVParser.Row) throws(PropertyViolation) {
        var written: [UInt8] = []
        for (index, field) in row.fields.enumerated() {
            if index > 0 { written.append(UInt8(ascii: ",")) }
            written.append(UInt8(ascii: "\""))
            for byte in field.utf8 {
                if byte == UInt8(ascii: "\"") { written.append(byte) }
                written.append(byte)
            }
            written.append(UInt8(ascii: "\""))
        }
        written.append(UInt8(ascii: "\n"))
        let again = parse(written)
        guard again.count == 1, case .row(let reread) = again[0], reread.fields == row.fields else {
            throw PropertyViolation("a row's fields written as CSV read as the same fields", "\(again) from \(quoted(written))")
        }
        // A blank line first, so that a raw line starting with the bytes of a byte order mark is not taken for one.
        let replay = parse([UInt8(ascii: "\n")] + row.raw + [UInt8(ascii: "\n")])
        guard replay.count == 1, case .row(let replayed) = replay[0], replayed.fields == row.fields, replayed.raw == row.raw else {
            throw PropertyViolation("the raw line a row keeps reads as the same row", "\(replay) from \(quoted(row.raw))")
        }
    }

    static func checkRecords(_ outputs: [CSVParser.Output], outcome: inout FuzzOutcome) throws(PropertyViolation) {
        guard case .row(let header)? = outputs.first else { return }
        for stream in DropStream.allCases {
            let decoder: DropRowDecoder
            do {
                decoder = try DropRowDecoder(stream: stream, header: header)
            } catch {
                try require(error.code == .noHeader, "a header that cannot be used is refused as no_header", "\(error)")
                outcome.add("header refused")
                continue
            }
            try require(decoder.columns.count == header.fields.count, "the decoder has a column per header field")
            for output in outputs.dropFirst() {
                guard case .row(let row) = output else { continue }
                switch decoder.decode(row) {
                case .success(let record):
                    try require(row.fields.count == header.fields.count, "a record row has as many fields as the header")
                    try checkRecord(record, stream: stream, outcome: &outcome)
                case .failure(let problem):
                    try require(rowProblemCodes.contains(problem.code), "a row that is not a record has a known code", problem.code)
                    try require(problem.lineNumber == row.lineNumber && problem.raw == row.raw, "a quarantined row keeps its line and bytes")
                    outcome.add(problem.code)
                }
            }
        }
    }

    static func checkRecord(_ record: DropRecord, stream: DropStream, outcome: inout FuzzOutcome) throws(PropertyViolation) {
        func identity(_ value: String?) -> Bool { value.flatMap { UInt64($0) } != nil }
        switch (stream, record) {
        case (.deals, .deal(let deal)):
            try require(identity(deal.deal) && identity(deal.login) && identity(deal.timeMsc), "a deal row has Deal, Login and TimeMsc as unsigned integers")
            try BridgeLineProperties.checkDownstream(deal, outcome: &outcome)
        case (.trades, .trade(let trade)):
            try require(identity(trade.order) && identity(trade.login) && identity(trade.closeTime), "a trade row has order, login and close_time as unsigned integers")
            try BridgeLineProperties.checkDownstream(trade, outcome: &outcome)
        case (.openTrades, .trade(let trade)):
            try require(identity(trade.order) && identity(trade.login), "an open trade row has order and login as unsigned integers")
            try BridgeLineProperties.checkDownstream(trade, outcome: &outcome)
        case (.accounts, .account(let account)):
            try require(identity(account.login), "an account row has login as an unsigned integer")
            let normalized = AccountNormalizer.normalize(account, zone: ServerTimeZone("-05:00")!)
            outcome.add((try? normalized.get()) == nil ? "account refused" : "account")
        case (.symbols, .symbol(let symbol)):
            try require(symbol.symbol.map { !$0.isEmpty } == true, "a symbol row has its symbol")
            outcome.add((try? symbol.normalized().get()) == nil ? "symbol refused" : "symbol")
        case (.daily, .daily(let daily)):
            try require(identity(daily.login), "a daily row has login as an unsigned integer")
            outcome.add((try? daily.normalized().get()) == nil ? "daily refused" : "daily")
        case (.changes, .change(let change)):
            switch change.record {
            case .deal(let deal):
                try require(identity(deal.deal), "a changes row has its Deal as an unsigned integer")
                if change.operation == .update { try BridgeLineProperties.checkDownstream(deal, outcome: &outcome) }
            case .trade(let trade):
                try require(identity(trade.order), "a changes row has its order as an unsigned integer")
                if change.operation == .update { try BridgeLineProperties.checkDownstream(trade, outcome: &outcome) }
            }
            outcome.add("change \(change.operation)")
        default:
            throw PropertyViolation("a row decodes to its stream's kind of record", "\(stream): \(record)")
        }
    }

    static func checkManifest(_ input: UnsafeBufferPointer<UInt8>, outcome: inout FuzzOutcome) throws(PropertyViolation) {
        let manifest: DropManifest
        do {
            manifest = try DropManifest.decode(Data(buffer: input), csvName: csvName, serverID: serverID)
        } catch {
            try require(error.code == .badManifest || error.code == .badName, "a manifest that cannot be used is refused as bad_manifest", "\(error)")
            return outcome.add("manifest refused")
        }
        try require(
            manifest.file == csvName && manifest.serverID == serverID && manifest.stream == .deals && manifest.rows >= 0
                && manifest.fromMilliseconds <= manifest.toMilliseconds && manifest.sha256.utf8.count == 64,
            "an accepted manifest names this file, this server, its stream and a sane range", "\(manifest)")
        let encoded: Data
        do {
            encoded = try JSONEncoder().encode(manifest)
        } catch {
            throw PropertyViolation("an accepted manifest encodes", "\(error)")
        }
        let again = try? DropManifest.decode(encoded, csvName: csvName, serverID: serverID)
        try require(again == manifest, "a manifest re-encoded decodes to the same manifest", "\(String(describing: again)) vs \(manifest)")
        outcome.add("manifest")
    }

    static func checkFileName(_ input: UnsafeBufferPointer<UInt8>, outcome: inout FuzzOutcome) throws(PropertyViolation) {
        let firstLine = input.prefix { $0 != 0x0A }.prefix(300)
        guard let name = String(validating: firstLine, as: UTF8.self) else { return }
        switch Result(catching: { () throws(DropFileProblem) in try DropFileName(name) }) {
        case .success(let parsed):
            try require("\(parsed.stream.rawValue)-\(parsed.from)-\(parsed.to)-\(parsed.sequence).csv" == name, "a file name is its parts", name)
            outcome.add("file name \(parsed.stream)")
        case .failure(let error):
            try require(error.code == .badName, "a file name that is not one is refused as bad_name", "\(error)")
        }
    }
}
