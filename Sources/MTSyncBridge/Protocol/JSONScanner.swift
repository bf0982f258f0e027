/// A strict (RFC 8259) JSON scanner over one line's bytes, shared by the record-line fast path and the
/// general message parser. Numbers are kept as their literal text: nothing passes through `Double`.
struct JSONScanner: ~Copyable {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    /// Nesting bound, so a hostile line cannot exhaust the stack.
    static let maximumDepth = 32

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        // A UTF-8 byte order mark is tolerated at the very start of a line.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
    }

    func fail(_ reason: String) -> RecordDecodingError { RecordDecodingError(offset: index, reason: reason) }

    var atEnd: Bool { index >= bytes.count }
    var current: UInt8 { bytes[index] }

    mutating func skipWhitespace() {
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D else { return }
            index += 1
        }
    }

    // `what` is an autoclosure: the message is built only when the line is actually malformed.
    mutating func expect(_ byte: UInt8, _ what: @autoclosure () -> String) throws(RecordDecodingError) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { throw fail("expected \(what())") }
        index += 1
    }

    /// After a member: true when another follows (`,`), false at the closing byte.
    mutating func nextMember(closing: UInt8) throws(RecordDecodingError) -> Bool {
        skipWhitespace()
        guard index < bytes.count else { throw fail("unterminated \(closing == UInt8(ascii: "}") ? "object" : "array")") }
        if bytes[index] == UInt8(ascii: ",") { index += 1; return true }
        if bytes[index] == closing { index += 1; return false }
        throw fail("expected ',' or '\(Character(Unicode.Scalar(closing)))'")
    }

    /// Opens an object; false when it is empty (`{}` consumed).
    mutating func beginObject() throws(RecordDecodingError) -> Bool {
        try expect(UInt8(ascii: "{"), "'{'")
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return false }
        return true
    }

    /// Reads `"name":` and returns the name.
    mutating func memberName() throws(RecordDecodingError) -> String {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a field name in double quotes") }
        let name = try string()
        try expect(UInt8(ascii: ":"), "':' after field name")
        skipWhitespace()
        return name
    }

    enum MemberName {
        /// The name's bytes inside the line (it had no escapes).
        case raw(UnsafeBufferPointer<UInt8>)
        /// A name written with escapes, decoded.
        case decoded(String)
    }

    /// Reads `"name":`, returning the name's raw bytes when it has no escapes, without building a `String`.
    mutating func rawMemberName() throws(RecordDecodingError) -> MemberName {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a field name in double quotes") }
        let start = index + 1
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 { end += 1 }
        guard end < bytes.count, bytes[end] == UInt8(ascii: "\"") else {
            // Escapes or a control character: let the full string reader decide.
            return .decoded(try memberName())
        }
        index = end + 1
        try expect(UInt8(ascii: ":"), "':' after field name")
        skipWhitespace()
        return .raw(UnsafeBufferPointer(rebasing: bytes[start..<end]))
    }

    mutating func expectEnd() throws(RecordDecodingError) {
        skipWhitespace()
        guard index == bytes.count else { throw fail("unexpected data after the object") }
    }

    /// A scalar's text (nil for null), or `.composite` after checking and skipping an array or object.
    enum Scalar {
        case text(String?)
        case composite
    }

    mutating func scalarOrSkip(depth: Int = 0) throws(RecordDecodingError) -> Scalar {
        guard index < bytes.count else { throw fail("expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "\""): return .text(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .text(try number())
        case UInt8(ascii: "t"): try literal("true"); return .text("true")
        case UInt8(ascii: "f"): try literal("false"); return .text("false")
        case UInt8(ascii: "n"): try literal("null"); return .text(nil)
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            try skipComposite(depth: depth + 1)
            return .composite
        default: throw fail("expected a value")
        }
    }

    mutating func value(depth: Int = 0) throws(RecordDecodingError) -> JSONValue {
        guard depth <= Self.maximumDepth else { throw fail("nested deeper than \(Self.maximumDepth) levels") }
        guard index < bytes.count else { throw fail("expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "["):
            index += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array([]) }
            repeat {
                skipWhitespace()
                elements.append(try value(depth: depth + 1))
            } while try nextMember(closing: UInt8(ascii: "]"))
            return .array(elements)
        case UInt8(ascii: "{"):
            var members: [(String, JSONValue)] = []
            if try beginObject() {
                repeat {
                    let name = try memberName()
                    members.append((name, try value(depth: depth + 1)))
                } while try nextMember(closing: UInt8(ascii: "}"))
            }
            return .object(members)
        default: throw fail("expected a value")
        }
    }

    mutating func literal(_ word: StaticString) throws(RecordDecodingError) {
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        for byte in expected {
            guard index < bytes.count, bytes[index] == byte else { throw fail("expected \(word)") }
            index += 1
        }
    }

    mutating func skipComposite(depth: Int) throws(RecordDecodingError) {
        guard depth <= Self.maximumDepth else { throw fail("nested deeper than \(Self.maximumDepth) levels") }
        let isObject = bytes[index] == UInt8(ascii: "{")
        let closing = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == closing { index += 1; return }
        repeat {
            skipWhitespace()
            if isObject { _ = try memberName() }
            _ = try scalarOrSkip(depth: depth)
        } while try nextMember(closing: closing)
    }

    mutating func number() throws(RecordDecodingError) -> String {
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
        // Digits, sign, point and exponent are ASCII: no validation needed.
        return Self.asciiString(UnsafeBufferPointer(rebasing: bytes[start..<index]))
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    mutating func string() throws(RecordDecodingError) -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { break }
            index += 1
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
            let text = try validUTF8(UnsafeBufferPointer(rebasing: bytes[start..<index]))
            index += 1
            return text
        }
        var buffer = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
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
        return try buffer.withUnsafeBufferPointer { (pointer) throws(RecordDecodingError) in try validUTF8(pointer) }
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

    func validUTF8(_ slice: UnsafeBufferPointer<UInt8>) throws(RecordDecodingError) -> String {
        // Nearly every MetaTrader value is ASCII: copy those straight in; validate only the rest.
        var isASCII = true
        for byte in slice where byte >= 0x80 {
            isASCII = false
            break
        }
        if isASCII { return Self.asciiString(slice) }
        guard let text = String(validating: slice, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return text
    }

    /// A `String` from bytes known to be ASCII (hence valid UTF-8), without the generic decoding path, whose
    /// runtime metadata lookups dominated the decoder's profile.
    static func asciiString(_ slice: UnsafeBufferPointer<UInt8>) -> String {
        String(unsafeUninitializedCapacity: slice.count) { buffer in
            _ = buffer.initialize(from: slice)
            return slice.count
        }
    }
}

/// A JSON value with numbers kept as their literal text (exact), for the protocol's control messages.
public indirect enum JSONValue: Sendable, Hashable {
    case string(String)
    case number(String)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.string(let a), .string(let b)), (.number(let a), .number(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.null, .null): true
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.elementsEqual(b) { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .string(let text), .number(let text): hasher.combine(text)
        case .bool(let value): hasher.combine(value)
        case .null: hasher.combine(0)
        case .array(let elements): hasher.combine(elements)
        case .object(let members):
            for (name, value) in members {
                hasher.combine(name)
                hasher.combine(value)
            }
        }
    }

    /// Parses one JSON document (a whole line).
    public init(parsing bytes: some Collection<UInt8>) throws(RecordDecodingError) {
        let array = Array(bytes)
        self = try array.withUnsafeBufferPointer { (pointer) throws(RecordDecodingError) -> JSONValue in
            var scanner = JSONScanner(pointer)
            scanner.skipWhitespace()
            let value = try scanner.value()
            try scanner.expectEnd()
            return value
        }
    }

    public subscript(member: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == member }?.1
    }

    /// The text of a string or number (numbers exactly as written).
    public var text: String? {
        switch self {
        case .string(let text), .number(let text): text
        default: nil
        }
    }
}
