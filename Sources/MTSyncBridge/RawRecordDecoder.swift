import MTSyncCore

/// Builds raw MetaTrader records from bridge record lines (one JSON object per line, Manager API field names).
public enum RawRecordDecoder {
    public static func mt5Deal(fromLine line: some Collection<UInt8>) throws(RecordDecodingError) -> MT5DealRecord {
        let object = try FlatJSONObject(parsing: line)
        var record = MT5DealRecord()
        for field in object.fields { record.set(field.name, field.value) }
        return record
    }

    public static func mt4Trade(fromLine line: some Collection<UInt8>) throws(RecordDecodingError) -> MT4TradeRecord {
        let object = try FlatJSONObject(parsing: line)
        var record = MT4TradeRecord()
        for field in object.fields { record.set(field.name, field.value) }
        return record
    }
}
