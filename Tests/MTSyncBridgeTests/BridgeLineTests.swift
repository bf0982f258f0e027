import MTSyncBridge
import MTSyncCore
import MTSyncTestSupport
import Testing

@Suite("Decoding protocol lines")
struct BridgeLineTests {
    static func decode(_ text: String) throws(RecordDecodingError) -> BridgeLine {
        try BridgeLine.decode(Array(text.utf8))
    }

    @Test("a deal record line becomes an MT5 deal with its request id, numbers exactly as sent")
    func dealLine() throws {
        let line = try Self.decode(#"{"type":"deal","id":"r17","data":{"Deal":"9007199254740993","Login":1001,"Action":0,"TimeMsc":1735725600100,"VolumeExt":105000000,"Price":1.03420,"ApiData":[{"AppID":1}],"Extra":"ignored"}}"#)
        guard case .deal(let id, let deal) = line else { Issue.record("expected a deal, got \(line)"); return }
        #expect(id == "r17")
        #expect(deal.deal == "9007199254740993" && deal.login == "1001" && deal.price == "1.03420" && deal.volumeExt == "105000000")
    }

    @Test("field order does not matter: data before type is read too")
    func dataBeforeType() throws {
        let line = try Self.decode(#"{"data":{"order":88001,"login":5005,"cmd":6},"id":"r2","type":"trade"}"#)
        guard case .trade(let id, let trade) = line else { Issue.record("expected a trade, got \(line)"); return }
        #expect(id == "r2" && trade.order == "88001" && trade.cmd == "6")
    }

    @Test("a field name written with escapes still matches")
    func escapedName() throws {
        guard case .deal(_, let deal) = try Self.decode(#"{"type":"deal","id":"r","data":{"De\u0061l":"5"}}"#) else { Issue.record("expected a deal"); return }
        #expect(deal.deal == "5")
    }

    @Test("control messages are exact JSON values: a position above 2^53 keeps its digits")
    func controlMessages() throws {
        let line = try Self.decode(#"{"type":"end","id":"r17","count":1000,"more":true,"next":{"time_msc":1735725600250,"deal":9007199254740993}}"#)
        guard case .message(let message) = line else { Issue.record("expected a message"); return }
        #expect(message["type"] == .string("end"))
        #expect(message["count"]?.text == "1000")
        #expect(message["more"] == .bool(true))
        #expect(message["next"]?["deal"]?.text == "9007199254740993")
        let error = try Self.decode(#"{"type":"error","id":null,"code":"auth_failed","retryable":false,"message":"no"}"#)
        guard case .message(let errorMessage) = error else { Issue.record("expected a message"); return }
        #expect(errorMessage["id"] == .null && errorMessage["code"]?.text == "auth_failed")
    }

    @Test("malformed envelopes are typed errors", arguments: [
        #"{"id":"r1","data":{}}"#, #"{"type":5,"id":"r1"}"#, #"{"type":"deal","data":{"Deal":1}}"#, #"{"type":"deal","id":"r1"}"#,
        #"{"type":"deal","id":"r1","data":[1,2]}"#, #"{"type":"deal","id":"r1","data":{"Deal":1}"#, #"{}"#, #"[]"#, "",
        #"{"type":"end","id":"r1"} x"#,
    ])
    func malformed(text: String) {
        #expect(throws: RecordDecodingError.self) { try Self.decode(text) }
    }

    @Test("fuzz: mutated protocol lines never crash", arguments: 0..<6)
    func fuzz(seed: Int) {
        var random = SplitMix64(seed: UInt64(seed) &+ 1000)
        let seeds = [
            Array(#"{"type":"deal","id":"r17","data":{"Deal":"700001","Login":1001,"Action":1,"Entry":1,"TimeMsc":1735725600250,"Symbol":"EURUSD.pro","VolumeExt":105000000,"Price":1.03512,"Comment":"a\"b\u00e9"}}"#.utf8),
            Array(#"{"type":"end","id":"r17","count":3,"more":true,"next":{"time_msc":1735725600250,"deal":"700003"}}"#.utf8),
        ]
        let alphabet = Array(#"{}[]":,.-+eE0123456789\ utrfalsn"#.utf8) + [0x00, 0x0A, 0xFF, 0xC3, 0x80]
        var decoded = 0
        for round in 0..<3_000 {
            var line = seeds[round % seeds.count]
            for _ in 0..<(1 + Int(random.next() % 5)) {
                let position = Int(random.next() % UInt64(line.count))
                switch random.next() % 3 {
                case 0: line.remove(at: position)
                case 1: line.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: position)
                default: line[position] = alphabet[Int(random.next() % UInt64(alphabet.count))]
                }
            }
            if (try? BridgeLine.decode(line)) != nil { decoded += 1 }
        }
        #expect(decoded < 3_000, "most mutations break the line and are refused with a typed error")
        #expect((try? BridgeLine.decode(seeds[0])) != nil)
    }
}
