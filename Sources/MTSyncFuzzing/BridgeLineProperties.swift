import MTSyncBridge
import MTSyncCore

/// The bridge line decoder as the network reaches it: the input is a stretch of the TCP stream, split into lines
/// the way `LineFrameDecoder` splits it; each line goes through `BridgeLine.decode` and `BridgeMessage(line:)`,
/// the record decoders behind them (`RawAccountRecord` and `AccountNormalizer`, `DigestBucket`, `BridgeChange`, `RawRecordDecoder`,
/// `FlatJSONObject`), what a decoded record meets next (the digest's canonical line, the normalizer), and a
/// `BridgeClientSession` fed the messages in order.
///
/// Besides "no trap", for every line:
/// - a refused line is a `RecordDecodingError` pointing inside the line, and `BridgeMessage(line:)` refuses it
///   as `malformed`; contiguous and non-contiguous bytes decode the same;
/// - a message decodes to what the general JSON parser makes of the line; re-encoded (one line, no newline)
///   and decoded again it is the same value;
/// - a deal or trade re-encoded as a record line decodes to the same record;
/// - `FlatJSONObject` and `RawRecordDecoder` agree: whatever the flat parser accepts, the record decoder
///   accepts, with each field's last scalar value;
/// - the session answers each message with the matching event, or fails, stays failed with the same error,
///   and never puts the bridge key in an error or in the line it sends.
enum BridgeLineProperties {
    /// The handshake test vector's key (bridge-protocol/transcripts/handshake.jsonl).
    static let keyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    static let key = try! BridgeKey(id: "mtsync-1", hex: keyHex)
    static let keyBytes = Array(keyHex.utf8)

    static let mt5 = Normalizer(settings: ServerSettings(server: try! ServerID("fuzz-mt5"), platform: .mt5, zone: ServerTimeZone("Europe/Athens")!))
    static let mt4 = Normalizer(settings: ServerSettings(server: try! ServerID("fuzz-mt4"), platform: .mt4, zone: ServerTimeZone("ny-close")!))

    static func check(_ input: UnsafeBufferPointer<UInt8>) throws(PropertyViolation) -> FuzzOutcome {
        var outcome = FuzzOutcome()
        var driver = SessionDriver()
        let mentionsKey = input.contains(keyBytes)
        var start = 0
        repeat {
            let newline = input[start...].firstIndex(of: 0x0A) ?? input.count
            var end = newline
            // LineFrameDecoder drops a CR before the LF.
            if end > start, input[end - 1] == 0x0D { end -= 1 }
            // Each line in an allocation of its own size, so that AddressSanitizer sees a read past its end.
            try withExactCopy(UnsafeBufferPointer(rebasing: input[start..<end])) { (line) throws(PropertyViolation) in
                try checkLine(line, outcome: &outcome, driver: &driver, mentionsKey: mentionsKey)
            }
            start = newline + 1
        } while start < input.count
        return outcome
    }

    static func checkLine(
        _ line: UnsafeBufferPointer<UInt8>, outcome: inout FuzzOutcome, driver: inout SessionDriver, mentionsKey: Bool
    ) throws(PropertyViolation) {
        let decoded = Result { () throws(RecordDecodingError) in try BridgeLine.decode(line) }
        if line.count % 4 == 1 {
            let copied = Result { () throws(RecordDecodingError) in try BridgeLine.decode(line.lazy.map { $0 }) }
            try require(copied == decoded, "a line decodes the same from contiguous and non-contiguous bytes", "\(copied) vs \(decoded)")
        }
        try checkRecordDecoders(line, outcome: &outcome)
        let message = Result { () throws(BridgeProtocolError) in try BridgeMessage(line: line) }
        if case .failure(let error) = message {
            try require(error.code == .malformed && error.retryable, "a line that is not a valid message is malformed (retryable)", "\(error)")
            try require(mentionsKey || !Array(error.description.utf8).contains(keyBytes), "no error shows the bridge key", error.description)
        }
        switch decoded {
        case .failure(let error):
            try require((0...line.count).contains(error.offset), "a decoding error points inside the line", "offset \(error.offset) of \(line.count)")
            try require(!error.reason.isEmpty, "a decoding error says why")
            guard case .failure = message else {
                throw PropertyViolation("BridgeMessage refuses every line BridgeLine refuses", "\(message) for \(quoted(line))")
            }
            outcome.add("refused " + error.reason)
        case .success(let bridgeLine):
            try checkReencoding(bridgeLine, line: line, outcome: &outcome)
            switch message {
            case .failure(let error):
                outcome.add("untyped " + String(error.message.prefix { $0 != "\"" }))
            case .success(let typed):
                try checkTyped(typed, decoded: bridgeLine, outcome: &outcome)
                try driver.feed(typed, line: bridgeLine, outcome: &outcome, mentionsKey: mentionsKey)
            }
        }
    }

    // MARK: - Decoded values read back

    static func checkReencoding(_ bridgeLine: BridgeLine, line: UnsafeBufferPointer<UInt8>, outcome: inout FuzzOutcome) throws(PropertyViolation) {
        switch bridgeLine {
        case .message(let value):
            let general = Result { () throws(RecordDecodingError) in try JSONValue(parsing: line) }
            try require(general == .success(value), "a message is the value the general JSON parser reads", "\(general) vs \(value)")
            let text = value.serialized()
            try require(!text.contains(0x0A), "a serialized value is one line", quoted(text))
            let again = Result { () throws(RecordDecodingError) in try JSONValue(parsing: text) }
            try require(again == .success(value), "a message re-encoded and decoded again is the same value", "\(again) from \(quoted(text))")
            let lineAgain = Result { () throws(RecordDecodingError) in try BridgeLine.decode(text) }
            try require(lineAgain == .success(bridgeLine), "a message line re-encoded decodes to the same line", "\(lineAgain)")
            outcome.add("message")
        case .deal(let id, let deal):
            let text = recordLine(type: "deal", id: id, deal)
            let again = Result { () throws(RecordDecodingError) in try BridgeLine.decode(text) }
            try require(again == .success(bridgeLine), "a deal re-encoded decodes to the same deal", "\(again) from \(quoted(text))")
            outcome.add("deal")
            try checkDownstream(deal, outcome: &outcome)
        case .trade(let id, let trade):
            let text = recordLine(type: "trade", id: id, trade)
            let again = Result { () throws(RecordDecodingError) in try BridgeLine.decode(text) }
            try require(again == .success(bridgeLine), "a trade re-encoded decodes to the same trade", "\(again) from \(quoted(text))")
            outcome.add("trade")
            try checkDownstream(trade, outcome: &outcome)
        }
    }

    /// `{"type":…,"id":…,"data":{…}}` with every field the record holds, as JSON strings.
    static func recordLine<Record: RawFieldRecord>(type: String, id: String, _ record: Record) -> [UInt8] {
        let fields: [(String, JSONValue)] = Record.fieldNames.indices.compactMap { index in
            record.value(fieldAt: index).map { (Record.fieldNames[index], .string($0)) }
        }
        return JSONValue.object([("type", .string(type)), ("id", .string(id)), ("data", .object(fields))]).serialized()
    }

    /// What a decoded record meets next: the digest's canonical line and normalization, without a window and
    /// within one under a zone west and one east of UTC (`TimeBoundsProperties`). None may trap.
    static func checkDownstream(_ deal: MT5DealRecord, outcome: inout FuzzOutcome) throws(PropertyViolation) {
        outcome.add(DigestChecksum.canonicalLine(deal) == nil ? "no canonical line" : "canonical line")
        outcome.add(outcomeName(mt5.normalize(deal)))
        try TimeBoundsProperties.check(deal, selector: (deal.timeMsc?.utf8.count ?? 0) &+ (deal.deal?.utf8.count ?? 0), outcome: &outcome)
    }

    static func checkDownstream(_ trade: MT4TradeRecord, outcome: inout FuzzOutcome) throws(PropertyViolation) {
        outcome.add(DigestChecksum.canonicalLine(trade) == nil ? "no canonical line" : "canonical line")
        outcome.add(outcomeName(mt4.normalize(trade)))
        try TimeBoundsProperties.check(trade, selector: (trade.closeTime?.utf8.count ?? 0) &+ (trade.order?.utf8.count ?? 0), outcome: &outcome)
    }

    static func outcomeName(_ outcome: NormalizationOutcome) -> String {
        switch outcome {
        case .facts(let facts): "facts \(facts.count)"
        case .skipped(let reason): "skipped \(reason)"
        case .rejected(let rejection): "rejected \(rejection.field)"
        }
    }

    /// The flat-record decoders of `mtsync normalize` and CSV rows, on the same line.
    static func checkRecordDecoders(_ line: UnsafeBufferPointer<UInt8>, outcome: inout FuzzOutcome) throws(PropertyViolation) {
        let flat = Result { () throws(RecordDecodingError) in try FlatJSONObject(parsing: line) }
        let deal = Result { () throws(RecordDecodingError) in try RawRecordDecoder.mt5Deal(fromLine: line) }
        let trade = Result { () throws(RecordDecodingError) in try RawRecordDecoder.mt4Trade(fromLine: line) }
        switch (deal, trade) {
        case (.success, .success), (.failure, .failure): break
        default: throw PropertyViolation("a line is a valid record for MT5 exactly when it is for MT4", "\(deal) vs \(trade)")
        }
        // The record decoders skip field names they do not know without checking their UTF-8, so they may accept
        // a line the flat parser refuses; never the other way round.
        guard case .success(let object) = flat else { return }
        guard case .success(let deal) = deal, case .success(let trade) = trade else {
            throw PropertyViolation("a line FlatJSONObject reads is a valid record", "\(deal) for \(quoted(line))")
        }
        func last(_ name: String) -> String? { object.fields.last { $0.name == name }?.value }
        for (index, name) in MT5DealRecord.fieldNames.enumerated() {
            try require(deal.value(fieldAt: index) == last(name), "a record field holds the line's last value for it", "\(name): \(String(describing: deal.value(fieldAt: index))) vs \(String(describing: last(name)))")
        }
        for (index, name) in MT4TradeRecord.fieldNames.enumerated() {
            try require(trade.value(fieldAt: index) == last(name), "a record field holds the line's last value for it", "\(name): \(String(describing: trade.value(fieldAt: index))) vs \(String(describing: last(name)))")
        }
        outcome.add("flat record \(object.fields.count > 0)")
        // Normalizing is the slowest step: one platform per line, by the line's length.
        if line.count % 2 == 0 { try checkDownstream(deal, outcome: &outcome) } else { try checkDownstream(trade, outcome: &outcome) }
    }

    /// A typed message agrees with the line it came from; the records it carries decode or say why not.
    static func checkTyped(_ message: BridgeMessage, decoded: BridgeLine, outcome: inout FuzzOutcome) throws(PropertyViolation) {
        switch message {
        case .deal(let id, let deal):
            try require(decoded == .deal(requestID: id, deal), "a typed deal is the decoded deal")
        case .trade(let id, let trade):
            try require(decoded == .trade(requestID: id, trade), "a typed trade is the decoded trade")
        case .record(let type, _, let data):
            guard case .object = data else { throw PropertyViolation("a record's data is an object", "\(data)") }
            switch type {
            case "account":
                let account = AccountNormalizer.normalize(RawAccountRecord(object: data), zone: ServerTimeZone("-05:00")!)
                outcome.add((try? account.get()) == nil ? "account refused" : "account")
            case "bucket":
                outcome.add((try? DigestBucket(data)) == nil ? "bucket refused" : "bucket")
            case "daily":
                outcome.add((try? RawDailyRecord(object: data).normalized().get()) == nil ? "daily refused" : "daily")
            case "symbol":
                outcome.add((try? RawSymbolRecord(object: data).normalized().get()) == nil ? "symbol refused" : "symbol")
            case "server_info":
                try TimeBoundsProperties.checkServerInfo(data, outcome: &outcome)
            case "change":
                switch Result(catching: { () throws(BridgeProtocolError) in try BridgeChange(data) }) {
                case .success(let change):
                    switch change.record {
                    case .deal(let deal): try checkDownstream(deal, outcome: &outcome)
                    case .trade(let trade): try checkDownstream(trade, outcome: &outcome)
                    }
                    outcome.add("change \(change.operation)")
                case .failure(let error):
                    try require(error.code == .malformed, "a change that is not one is malformed", "\(error)")
                    outcome.add("change refused")
                }
            default:
                outcome.add(type)
            }
        case .hello(let hello):
            outcome.add("hello \(hello.versions.contains(1))")
        default:
            outcome.add("typed")
        }
    }
}

