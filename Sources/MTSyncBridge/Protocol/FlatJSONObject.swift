/// Reads one JSON object whose values are scalars (a record's fields) and keeps every value as text: a number's
/// literal digits exactly as sent, a string's unescaped content, `true`/`false`, and `null` as nil. Nested arrays
/// and objects (e.g. MT5 `ApiData`) are syntax-checked and skipped.
///
/// Foundation's `JSONSerialization` turns numbers into `Double`, which silently changes a 19-digit ticket or a
/// money amount; `JSONDecoder` is exact for `Decimal` but decodes only ~75 k deals/s here.
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
        var fields: [(name: String, value: String?)] = []
        try withContiguousBytes(bytes) { (pointer) throws(RecordDecodingError) in
            var scanner = JSONScanner(pointer)
            try scanner.expect(UInt8(ascii: "{"), "'{' (a record is one JSON object)")
            scanner.index -= 1
            if try scanner.beginObject() {
                repeat {
                    let name = try scanner.memberName()
                    if case .text(let value) = try scanner.scalarOrSkip() { fields.append((name, value)) }
                } while try scanner.nextMember(closing: UInt8(ascii: "}"))
            }
            try scanner.expectEnd()
        }
        self.fields = fields
    }
}

/// Why a line is not valid; `offset` is the byte where reading stopped.
public struct RecordDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public let offset: Int
    public let reason: String

    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

/// Runs `body` over the bytes as one contiguous buffer, copying only when the collection is not contiguous.
func withContiguousBytes<Result>(
    _ bytes: some Collection<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) throws(RecordDecodingError) -> Result
) throws(RecordDecodingError) -> Result {
    let direct: Swift.Result<Result, RecordDecodingError>? = bytes.withContiguousStorageIfAvailable { pointer in
        Swift.Result { () throws(RecordDecodingError) in try body(pointer) }
    }
    if let direct { return try direct.get() }
    let copy = Array(bytes)
    return try copy.withUnsafeBufferPointer { (pointer) throws(RecordDecodingError) in try body(pointer) }
}
