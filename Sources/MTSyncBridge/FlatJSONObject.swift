/// Reads one JSON object of a bridge record line and keeps every scalar value as text: a number's literal
/// digits exactly as sent, a string's unescaped content, `true`/`false`, and `null` as nil.
///
/// Foundation's `JSONSerialization` turns numbers into `Double`, which silently changes a 19-digit ticket or
/// a money amount; `JSONDecoder` is exact for `Decimal` but decodes only ~75 k deals/s here. Records are flat
/// (MetaTrader field name → scalar), so this reader handles exactly that, strictly (RFC 8259 syntax), and skips
/// nested arrays and objects (e.g. MT5 `ApiData`) after checking their syntax. The bridge protocol's full
/// streaming decoder builds on it.
public struct FlatJSONObject: Sendable, Hashable {
    public private(set) var fields: [(name: String, value: String?)]

    public static func == (lhs: FlatJSONObject, rhs: FlatJSONObject) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for field in fields {
            hasher.combine(field.name)
            hasher.combine(field.value)
        }
    }

    public subscript(name: String) -> String? {
        fields.first { $0.name == name }?.value ?? nil
    }

    /// Parses `bytes` (one line, without its newline). Throws a `RecordDecodingError` saying where and why.
    public init(parsing bytes: some Collection<UInt8>) throws(RecordDecodingError) {
        var parser = Parser(bytes: Array(bytes))
        fields = try parser.parseObject()
    }
}

/// Why a record line is not a valid JSON object; `offset` is the byte where reading stopped.
public struct RecordDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public let offset: Int
    public let reason: String

    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

private struct Parser {
    let bytes: [UInt8]
    var index = 0
    /// Nesting bound for skipped values, so a hostile line cannot exhaust the stack.
    static let maximumDepth = 32

    init(bytes: [UInt8]) { self.bytes = bytes }

    func fail(_ reason: String) -> RecordDecodingError { RecordDecodingError(offset: index, reason: reason) }

    mutating func skipWhitespace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D { index += 1 }
    }

    // `what` is an autoclosure: the message is built only when the line is actually malformed.
    mutating func expect(_ byte: UInt8, _ what: @autoclosure () -> String) throws(RecordDecodingError) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { throw fail("expected \(what())") }
        index += 1
    }

    mutating func parseObject() throws(RecordDecodingError) -> [(name: String, value: String?)] {
        // A UTF-8 byte order mark is tolerated at the very start of a line.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        try expect(UInt8(ascii: "{"), "'{' (a record is one JSON object)")
        var fields: [(name: String, value: String?)] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a field name in double quotes") }
                let name = try parseString()
                try expect(UInt8(ascii: ":"), "':' after field name \(String(reflecting: name))")
                skipWhitespace()
                if case .scalar(let text) = try parseValue(depth: 0) {
                    fields.append((name, text))
                }
                skipWhitespace()
                guard index < bytes.count else { throw fail("unterminated object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; break }
                throw fail("expected ',' or '}'")
            }
        }
        skipWhitespace()
        guard index == bytes.count else { throw fail("unexpected data after the object") }
        return fields
    }

    enum Value {
        /// A scalar's text; nil for `null`.
        case scalar(String?)
        /// A nested array or object, syntax-checked and skipped.
        case skipped
    }

    mutating func parseValue(depth: Int) throws(RecordDecodingError) -> Value {
        guard index < bytes.count else { throw fail("expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "\""): return .scalar(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .scalar(try parseNumber())
        case UInt8(ascii: "t"): try literal("true"); return .scalar("true")
        case UInt8(ascii: "f"): try literal("false"); return .scalar("false")
        case UInt8(ascii: "n"): try literal("null"); return .scalar(nil)
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            try skipComposite(depth: depth + 1)
            return .skipped
        default: throw fail("expected a value")
        }
    }

    mutating func literal(_ word: String) throws(RecordDecodingError) {
        for byte in word.utf8 {
            guard index < bytes.count, bytes[index] == byte else { throw fail("expected \(word)") }
            index += 1
        }
    }

    mutating func skipComposite(depth: Int) throws(RecordDecodingError) {
        guard depth <= Self.maximumDepth else { throw fail("nested deeper than \(Self.maximumDepth) levels") }
        let isObject = bytes[index] == UInt8(ascii: "{")
        let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == close { index += 1; return }
        while true {
            skipWhitespace()
            if isObject {
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a field name in double quotes") }
                _ = try parseString()
                try expect(UInt8(ascii: ":"), "':'")
                skipWhitespace()
            }
            _ = try parseValue(depth: depth)
            skipWhitespace()
            guard index < bytes.count else { throw fail("unterminated \(isObject ? "object" : "array")") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == close { index += 1; return }
            throw fail("expected ',' or '\(Character(Unicode.Scalar(close)))'")
        }
    }

    mutating func parseNumber() throws(RecordDecodingError) -> String {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw fail("expected digits") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("expected digits after '.'") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("expected exponent digits") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    mutating func parseString() throws(RecordDecodingError) -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes.
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 { index += 1 }
        if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
            let text = try validUTF8(bytes[start..<index])
            index += 1
            return text
        }
        var buffer = Array(bytes[start..<index])
        while true {
            guard index < bytes.count else { throw fail("unterminated string") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { index += 1; break }
            guard byte >= 0x20 else { throw fail("control character in string (escape it)") }
            if byte != UInt8(ascii: "\\") {
                buffer.append(byte)
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else { throw fail("unterminated escape") }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): buffer.append(0x22)
            case UInt8(ascii: "\\"): buffer.append(0x5C)
            case UInt8(ascii: "/"): buffer.append(0x2F)
            case UInt8(ascii: "b"): buffer.append(0x08)
            case UInt8(ascii: "f"): buffer.append(0x0C)
            case UInt8(ascii: "n"): buffer.append(0x0A)
            case UInt8(ascii: "r"): buffer.append(0x0D)
            case UInt8(ascii: "t"): buffer.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { throw fail("unpaired surrogate") }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("unpaired surrogate")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                buffer.append(contentsOf: Array(String(Character(unicode)).utf8))
            default:
                throw fail("invalid escape")
            }
        }
        return try validUTF8(buffer[...])
    }

    mutating func hex4() throws(RecordDecodingError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    func validUTF8(_ slice: ArraySlice<UInt8>) throws(RecordDecodingError) -> String {
        guard let text = String(validating: slice, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return text
    }
}
