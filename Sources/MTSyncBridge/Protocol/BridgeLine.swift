import MTSyncCore

/// One line received from a bridge (bridge-protocol/README.md §3): a deal or trade record on the fast path,
/// or any other message as an exact JSON value.
public enum BridgeLine: Sendable, Hashable {
    case deal(requestID: String, MT5DealRecord)
    case trade(requestID: String, MT4TradeRecord)
    /// Every other message (`hello`, `welcome`, `end`, `error`, `account`, `bucket`, …); its `type` member says
    /// which.
    case message(JSONValue)

    /// Decodes one line (without its newline). Deal and trade records — nearly every line of a sync — are read
    /// straight into their record without building an intermediate tree; everything else is parsed exactly.
    public static func decode(_ line: some Collection<UInt8>) throws(RecordDecodingError) -> BridgeLine {
        try withContiguousBytes(line) { (bytes) throws(RecordDecodingError) -> BridgeLine in
            var scanner = JSONScanner(bytes)
            let objectStart = scanner.index
            guard try scanner.beginObject() else { throw scanner.fail("a message needs a \"type\"") }
            var type: String?
            var id: String?
            var deal: MT5DealRecord?
            var trade: MT4TradeRecord?
            var dataStart: Int?
            repeat {
                let name = try scanner.memberName()
                switch name {
                case "type":
                    guard case .text(let text?) = try scanner.scalarOrSkip(), scanner.bytes[scanner.index - 1] == UInt8(ascii: "\"") else {
                        throw scanner.fail("\"type\" must be a string")
                    }
                    type = text
                case "id":
                    if case .text(let text) = try scanner.scalarOrSkip() { id = text }
                case "data" where type == "deal":
                    deal = try readRecord(&scanner, as: MT5DealRecord.self)
                case "data" where type == "trade":
                    trade = try readRecord(&scanner, as: MT4TradeRecord.self)
                case "data":
                    // The type is not known yet (or not a record): remember where the data is.
                    dataStart = scanner.index
                    _ = try scanner.scalarOrSkip()
                default:
                    _ = try scanner.scalarOrSkip()
                }
            } while try scanner.nextMember(closing: UInt8(ascii: "}"))
            try scanner.expectEnd()

            guard let type else { throw RecordDecodingError(offset: objectStart, reason: "a message needs a \"type\"") }
            if type == "deal" || type == "trade" {
                guard let id else { throw RecordDecodingError(offset: objectStart, reason: "a \(type) record needs the request \"id\"") }
                if deal == nil, trade == nil, let dataStart {
                    // "data" came before "type": read it again now that the type is known.
                    var again = JSONScanner(bytes)
                    again.index = dataStart
                    if type == "deal" { deal = try readRecord(&again, as: MT5DealRecord.self) } else { trade = try readRecord(&again, as: MT4TradeRecord.self) }
                }
                if let deal { return .deal(requestID: id, deal) }
                if let trade { return .trade(requestID: id, trade) }
                throw RecordDecodingError(offset: objectStart, reason: "a \(type) record needs its \"data\" object")
            }
            var whole = JSONScanner(bytes)
            whole.skipWhitespace()
            return .message(try whole.value())
        }
    }

    static let dealFields = FieldNameTable(MT5DealRecord.fieldNames)
    static let tradeFields = FieldNameTable(MT4TradeRecord.fieldNames)

    /// Reads a record object, setting known fields by index; unknown fields and nested values are skipped.
    static func readRecord<Record: RawFieldRecord>(_ scanner: inout JSONScanner, as: Record.Type) throws(RecordDecodingError) -> Record {
        let table = Record.self == MT5DealRecord.self ? dealFields : tradeFields
        var record = Record()
        scanner.skipWhitespace()
        guard !scanner.atEnd, scanner.current == UInt8(ascii: "{") else { throw scanner.fail("a record must be an object") }
        if try scanner.beginObject() {
            repeat {
                let fieldIndex: Int? = switch try scanner.rawMemberName() {
                case .raw(let bytes): table.index(of: bytes)
                // A name written with escapes (never seen in practice) is matched as a String.
                case .decoded(let name): Record.fieldIndex[name]
                }
                let value = try scanner.scalarOrSkip()
                if case .text(let text) = value, let fieldIndex { record.set(fieldAt: fieldIndex, text) }
            } while try scanner.nextMember(closing: UInt8(ascii: "}"))
        }
        return record
    }
}
