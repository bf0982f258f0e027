import MTSyncBridge
import MTSyncCore
import MTSyncTestSupport
import Testing

@Suite("Reading record lines")
struct FlatJSONObjectTests {
    static func parse(_ text: String) throws(RecordDecodingError) -> FlatJSONObject {
        try FlatJSONObject(parsing: Array(text.utf8))
    }

    @Test("numbers keep their literal digits; strings are unescaped; null is absent")
    func scalars() throws {
        let object = try Self.parse(#"{"Deal": 9007199254740993, "Price":1.10000, "Neg":-0.5e-3, "S":"a\"b\\c\u00e9\ud83d\ude80\n", "T":true, "N":null}"#)
        #expect(object["Deal"] == "9007199254740993")
        #expect(object["Price"] == "1.10000")
        #expect(object["Neg"] == "-0.5e-3")
        #expect(object["S"] == "a\"b\\cé🚀\n")
        #expect(object["T"] == "true")
        #expect(object["N"] == nil)
        #expect(object.fields.count == 6)
    }

    @Test("nested arrays and objects are checked and skipped")
    func nestedSkipped() throws {
        let object = try Self.parse(#"{"ApiData":[{"AppID":1,"ValueDouble":2.5},[]],"Deal":"5"}"#)
        #expect(object.fields.map(\.name) == ["Deal"])
    }

    @Test("invalid lines are typed errors with a position", arguments: [
        "", "not json", "[1,2]", "{", #"{"a":}"#, #"{"a":1,}"#, #"{"a" 1}"#, #"{"a":01}"#, #"{"a":1.}"#, #"{"a":.5}"#,
        #"{"a":"unterminated}"#, #"{"a":"\x"}"#, #"{"a":"\ud800"}"#, #"{"a":1} trailing"#, #"{"a":tru}"#, #"{a:1}"#,
        "{\"a\":\"tab\there\"}", #"{"a":-}"#, #"{"a":1e}"#,
        String(repeating: "[", count: 100),
    ])
    func invalid(line: String) {
        #expect(throws: RecordDecodingError.self) { try Self.parse(line) }
    }

    @Test("a deeply nested value is refused, not a stack overflow")
    func deepNesting() {
        let line = #"{"a":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
        #expect(throws: RecordDecodingError.self) { try Self.parse(line) }
    }

    @Test("invalid UTF-8 inside a string is refused")
    func invalidUTF8() {
        #expect(throws: RecordDecodingError.self) { try FlatJSONObject(parsing: Array(#"{"a":""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)) }
    }

    @Test("fuzz: random and mutated lines never crash; each is a record or a typed error", arguments: 0..<8)
    func fuzz(seed: Int) {
        var random = SplitMix64(seed: UInt64(seed))
        let seedLine = Array(#"{"Deal":"700001","Login":1001,"Action":1,"Entry":1,"TimeMsc":1735725600250,"Symbol":"EURUSD.pro","VolumeExt":105000000,"Price":1.03512,"Profit":"123.45","ApiData":[{"AppID":1}],"Comment":"a\"b"}"#.utf8)
        let alphabet = Array(#"{}[]":,.-+eE0123456789\ untrfalsn"#.utf8) + [0x00, 0x0A, 0xFF, 0xC3]
        var parsed = 0
        for _ in 0..<2_500 {
            var line = seedLine
            for _ in 0..<(1 + Int(random.next() % 6)) {
                let position = Int(random.next() % UInt64(line.count + 1))
                switch random.next() % 3 {
                case 0 where !line.isEmpty: line.remove(at: min(position, line.count - 1))
                case 1: line.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: position)
                default: if !line.isEmpty { line[min(position, line.count - 1)] = alphabet[Int(random.next() % UInt64(alphabet.count))] }
                }
            }
            if let object = try? FlatJSONObject(parsing: line) {
                parsed += 1
                // Whatever parses goes through normalization too: a fact, a skip or a rejection, never a trap.
                _ = Normalizer(settings: ServerSettings(server: try! ServerID("f"), platform: .mt5, zone: ServerTimeZone("UTC")!))
                    .normalize(MT5DealRecord(fields: Dictionary(object.fields.compactMap { f in f.value.map { (f.name, $0) } }, uniquingKeysWith: { a, _ in a })))
            }
        }
        let randomLines = (0..<2_500).map { _ in (0..<Int(random.next() % 80)).map { _ in UInt8(truncatingIfNeeded: random.next()) } }
        for line in randomLines { _ = try? FlatJSONObject(parsing: line) }
        // Reaching here is the point (no crash, no hang); the seed itself must of course parse.
        #expect((try? FlatJSONObject(parsing: seedLine))?.fields.count == 10)
        #expect(parsed < 2_500, "most mutations break the syntax and were refused")
    }

    @Test("record lines become MT5 and MT4 records by Manager API name")
    func records() throws {
        let deal = try RawRecordDecoder.mt5Deal(fromLine: Array(#"{"Deal":5,"Login":"1001","VolumeExt":105000000,"Unknown":"x"}"#.utf8))
        #expect(deal.deal == "5" && deal.login == "1001" && deal.volumeExt == "105000000")
        let trade = try RawRecordDecoder.mt4Trade(fromLine: Array(#"{"order":7,"login":5005,"cmd":6,"open_time":1735725600,"profit":-250.00}"#.utf8))
        #expect(trade.order == "7" && trade.cmd == "6" && trade.openTime == "1735725600" && trade.profit == "-250.00")
    }
}
