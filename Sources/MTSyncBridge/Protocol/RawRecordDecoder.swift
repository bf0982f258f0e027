import MTSyncCore

/// Builds raw MetaTrader records from flat record lines: one JSON object per line with Manager API field
/// names, as `mtsync normalize` reads them and as CSV rows become.
public enum RawRecordDecoder {
    public static func mt5Deal(fromLine line: some Collection<UInt8>) throws(RecordDecodingError) -> MT5DealRecord {
        try record(fromLine: line, as: MT5DealRecord.self)
    }

    public static func mt4Trade(fromLine line: some Collection<UInt8>) throws(RecordDecodingError) -> MT4TradeRecord {
        try record(fromLine: line, as: MT4TradeRecord.self)
    }

    static func record<Record: RawFieldRecord>(fromLine line: some Collection<UInt8>, as type: Record.Type) throws(RecordDecodingError) -> Record {
        try withContiguousBytes(line) { (bytes) throws(RecordDecodingError) -> Record in
            var scanner = JSONScanner(bytes)
            scanner.skipWhitespace()
            guard !scanner.atEnd, scanner.current == UInt8(ascii: "{") else { throw scanner.fail("expected '{' (a record is one JSON object)") }
            let record = try BridgeLine.readRecord(&scanner, as: type)
            try scanner.expectEnd()
            return record
        }
    }
}
