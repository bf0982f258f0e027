import MTSyncBridge
import MTSyncCore
import MTSyncTestSupport
import Testing

@Suite("Reading CSV drop files (bridge-protocol/README.md §7.2)")
struct CSVParserTests {
    static func parse(_ bytes: [UInt8], chunkSizes: [Int] = [Int.max]) -> [CSVParser.Output] {
        var parser = CSVParser(maximumRowBytes: 64)
        var outputs: [CSVParser.Output] = []
        var offset = 0, turn = 0
        while offset < bytes.count {
            let size = min(chunkSizes[turn % chunkSizes.count], bytes.count - offset)
            parser.feed(bytes[offset..<offset + size]) { outputs.append($0) }
            offset += size
            turn += 1
        }
        parser.finish { outputs.append($0) }
        return outputs
    }

    static func parse(_ text: String) -> [CSVParser.Output] { parse(Array(text.utf8)) }

    static func rows(_ outputs: [CSVParser.Output]) -> [[String]] {
        outputs.compactMap { if case .row(let row) = $0 { row.fields } else { nil } }
    }

    static func problems(_ outputs: [CSVParser.Output]) -> [CSVParser.MalformedRow] {
        outputs.compactMap { if case .malformed(let problem) = $0 { problem } else { nil } }
    }

    @Test("RFC 4180 fields: plain, empty, quoted with commas, doubled quotes and line breaks", arguments: [
        ("a,b,c\n", [["a", "b", "c"]]),
        ("a,,c\n,\n", [["a", "", "c"], ["", ""]]),
        ("\"x,y\",\"say \"\"hi\"\"\"\n", [["x,y", "say \"hi\""]]),
        ("\"line1\nline2\",z\n", [["line1\nline2", "z"]]),
        ("\"crlf\r\ninside\",z\r\n", [["crlf\r\ninside", "z"]]),
        ("\"\",\"\"\n", [["", ""]]),
        ("a,b\r\nc,d\r\n", [["a", "b"], ["c", "d"]]),
        ("last,row", [["last", "row"]]),
        ("\u{FEFF}Deal,Login\n1,2\n", [["Deal", "Login"], ["1", "2"]]),
        ("a\n\n\nb\n", [["a"], ["b"]]),
        ("é,日本\n", [["é", "日本"]]),
    ])
    func validRows(text: String, expected: [[String]]) {
        let outputs = Self.parse(text)
        #expect(Self.problems(outputs).isEmpty)
        #expect(Self.rows(outputs) == expected)
    }

    @Test("a row records the line it starts on, counting line breaks inside quoted fields")
    func lineNumbers() {
        let outputs = Self.parse("h1,h2\n\"two\nlines\",x\nnext,row\n\nafter,blank\n")
        let lines = outputs.map { if case .row(let row) = $0 { row.lineNumber } else { -1 } }
        #expect(lines == [1, 2, 4, 6])
    }

    @Test("a row keeps its exact raw bytes, without the line ending")
    func rawBytes() {
        let outputs = Self.parse("\"a,\"\"b\",c\r\nd\n")
        guard case .row(let first) = outputs[0] else { Issue.record("expected a row"); return }
        #expect(first.raw == Array("\"a,\"\"b\",c".utf8))
    }

    @Test("malformed rows are reported with a reason and the rest of the file goes on", arguments: [
        ("ok,1\nab\"c,2\nok,3\n", 2, "a quote inside an unquoted field"),
        ("ok,1\n\"ab\"c,2\nok,3\n", 2, "text after the closing quote"),
        ("ok,1\na\rb,2\nok,3\n", 2, "carriage return not followed by a line feed"),
    ])
    func malformed(text: String, line: Int, reason: String) {
        let outputs = Self.parse(text)
        #expect(Self.rows(outputs) == [["ok", "1"], ["ok", "3"]])
        let problems = Self.problems(outputs)
        #expect(problems.count == 1)
        #expect(problems.first?.lineNumber == line)
        #expect(problems.first?.reason.contains(reason) == true, "\(problems)")
        #expect(problems.first?.raw.isEmpty == false)
    }

    @Test("bytes that are not UTF-8 make the row malformed, not the file")
    func invalidUTF8() {
        let bytes = Array("a,b\n".utf8) + [0x63, 0xC3, 0x28, 0x2C, 0x64, 0x0A] + Array("e,f\n".utf8)
        let outputs = Self.parse(bytes)
        #expect(Self.rows(outputs) == [["a", "b"], ["e", "f"]])
        #expect(Self.problems(outputs).map(\.reason) == ["field 1 is not valid UTF-8"])
        #expect(Self.problems(outputs).first?.raw == [0x63, 0xC3, 0x28, 0x2C, 0x64])
    }

    @Test("an unterminated quote at the end of the file is malformed")
    func unterminatedQuote() {
        let outputs = Self.parse("a,b\n\"open,c\n")
        #expect(Self.rows(outputs) == [["a", "b"]])
        #expect(Self.problems(outputs).first?.reason.contains("not closed") == true)
    }

    @Test("a row longer than the limit is malformed and kept only up to the limit: memory stays bounded")
    func oversizeRow() {
        let long = String(repeating: "x", count: 500)
        let outputs = Self.parse("a\n\(long)\nb\n\"\(long)")
        #expect(Self.rows(outputs) == [["a"], ["b"]])
        let problems = Self.problems(outputs)
        #expect(problems.count == 2)
        #expect(problems.allSatisfy { $0.raw.count == 64 && $0.reason.contains("longer than 64 bytes") })
    }

    @Test("how the bytes are split into chunks never changes the rows (byte order mark and CRLF included)", arguments: [1, 2, 3, 5, 7, 64])
    func chunkingInvariance(chunk: Int) {
        let text = "\u{FEFF}Deal,Comment\r\n1,\"a,\"\"b\"\"\r\nc\"\r\n2,plain\r\n3,\"\"\r\n"
        let whole = Self.parse(Array(text.utf8))
        #expect(Self.parse(Array(text.utf8), chunkSizes: [chunk]) == whole)
        #expect(Self.rows(whole) == [["Deal", "Comment"], ["1", "a,\"b\"\r\nc"], ["2", "plain"], ["3", ""]])
    }

    @Test("a partial byte order mark is data, reported as invalid UTF-8")
    func partialByteOrderMark() {
        let outputs = Self.parse([0xEF, 0xBB, 0x41, 0x0A, 0x42, 0x0A])
        #expect(Self.rows(outputs) == [["B"]])
        #expect(Self.problems(outputs).count == 1)
    }

    @Test("fuzz: random and mutated input never crashes; every row is either fields or a reason, in line order")
    func fuzz() {
        var random = SplitMix64(seed: 0xC5F_D20B)
        let alphabet: [UInt8] = Array("ab,\"\r\n1.-é".utf8) + [0xFF, 0xEF, 0xBB, 0xBF, 0x00]
        let seed = Array("Deal,Login,Comment\r\n700001,1001,\"hi, \"\"there\"\"\"\n700002,1002,x\n".utf8)
        for round in 0..<3_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...200, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            } else {
                bytes = seed
                for _ in 0..<Int.random(in: 1...6, using: &random) {
                    let position = Int.random(in: 0..<bytes.count, using: &random)
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0: bytes[position] = alphabet.randomElement(using: &random)!
                    case 1: bytes.insert(alphabet.randomElement(using: &random)!, at: position)
                    default: if bytes.count > 1 { bytes.remove(at: position) }
                    }
                }
            }
            let chunk = Int.random(in: 1...16, using: &random)
            let outputs = Self.parse(bytes, chunkSizes: [chunk])
            #expect(outputs == Self.parse(bytes), "round \(round): chunking changed the result")
            let lines = outputs.map { output -> Int in
                switch output {
                case .row(let row): row.lineNumber
                case .malformed(let problem): problem.lineNumber
                }
            }
            #expect(lines == lines.sorted(), "round \(round)")
        }
    }
}

@Suite("Drop rows into records")
struct DropRowDecoderTests {
    static func row(_ line: Int, _ fields: [String]) -> CSVParser.Row {
        CSVParser.Row(lineNumber: line, fields: fields, raw: Array(fields.joined(separator: ",").utf8))
    }

    @Test("columns are matched by name in any order; unknown columns are ignored; an empty field is absent")
    func dealColumns() throws {
        let decoder = try DropRowDecoder(stream: .deals, header: Self.row(1, ["Symbol", "TimeMsc", "Login", "Deal", "Vendor", "Price", "Comment"]))
        guard case .success(.deal(let deal)) = decoder.decode(Self.row(2, ["EURUSD.pro", "1735725600100", "1001", "18446744073709551615", "x", "1.0342", ""])) else {
            Issue.record("expected a deal")
            return
        }
        #expect(deal.deal == "18446744073709551615")
        #expect(deal.login == "1001" && deal.timeMsc == "1735725600100" && deal.symbol == "EURUSD.pro" && deal.price == "1.0342")
        #expect(deal.comment == nil)
    }

    @Test("a header without the identity columns, or naming a column twice, refuses the file", arguments: [
        (DropStream.deals, ["Deal", "Login"]),
        (DropStream.trades, ["order", "login", "open_time"]),
        (DropStream.accounts, ["group"]),
        (DropStream.deals, ["Deal", "Login", "TimeMsc", "Deal"]),
        (DropStream.symbols, ["digits"]),
    ])
    func badHeader(stream: DropStream, header: [String]) {
        #expect(throws: DropFileProblem.self) { try DropRowDecoder(stream: stream, header: Self.row(1, header)) }
    }

    @Test("rows without a usable identity, or with the wrong number of fields, become quarantine entries", arguments: [
        (["1", "1001"], "column_count"),
        (["", "1001", "1735725600100"], "missing_identity"),
        (["12a", "1001", "1735725600100"], "bad_identity"),
        (["1", "-5", "1735725600100"], "bad_identity"),
        (["1", "1001", "99999999999999999999999"], "bad_identity"),
    ])
    func badRows(fields: [String], code: String) throws {
        let decoder = try DropRowDecoder(stream: .deals, header: Self.row(1, ["Deal", "Login", "TimeMsc"]))
        guard case .failure(let problem) = decoder.decode(Self.row(7, fields)) else {
            Issue.record("expected a problem")
            return
        }
        #expect(problem.code == code)
        #expect(problem.lineNumber == 7)
        #expect(problem.raw == Array(fields.joined(separator: ",").utf8))
    }

    @Test("MT4 trades and accounts decode by their protocol names")
    func tradesAndAccounts() throws {
        let trades = try DropRowDecoder(stream: .trades, header: Self.row(1, ["order", "login", "cmd", "volume", "close_time", "symbol"]))
        guard case .success(.trade(let trade)) = trades.decode(Self.row(2, ["88001", "2001", "6", "0", "1735732800", ""])) else {
            Issue.record("expected a trade")
            return
        }
        #expect(trade.order == "88001" && trade.cmd == "6" && trade.closeTime == "1735732800" && trade.symbol == nil)
        let accounts = try DropRowDecoder(stream: .accounts, header: Self.row(1, ["login", "group", "client_id", "leverage"]))
        guard case .success(.account(let account)) = accounts.decode(Self.row(2, ["1001", "real\\A", "C-55012", "100"])) else {
            Issue.record("expected an account")
            return
        }
        #expect(account.login == "1001" && account.clientID == "C-55012" && account.leverage == "100" && account.group == "real\\A")
    }

    @Test("file names follow <stream>-<from>-<to>-<seq>.csv", arguments: [
        ("deals-20250101T000000-20250102T000000-0001.csv", true),
        ("open-trades-20250101T120000-20250101T120000-00042.csv", true),
        ("deals-20250101-20250102-0001.csv", false),
        ("deals-20250101T000000-20250102T000000-01.csv", false),
        ("orders-20250101T000000-20250102T000000-0001.csv", false),
        ("deals-20250101T000000-20250102T000000-0001.csv.tmp", false),
    ])
    func fileNames(name: String, valid: Bool) {
        #expect(((try? DropFileName(name)) != nil) == valid)
    }
}
