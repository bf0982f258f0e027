/// RFC 4180 rows from a byte stream fed in chunks of any size (bridge-protocol/README.md §7.2): comma
/// separator, `"` quoting with `""` for a quote inside a field, quoted fields may hold commas, CR and LF; lines
/// end with LF or CRLF; a UTF-8 byte order mark at the very start is skipped.
///
/// Sans-I/O: the caller reads the file and feeds bytes; the parser never holds more than one row. A row that
/// breaks the rules is reported as `.malformed` with its line number, the reason and its raw bytes, and parsing
/// resumes at the next line, so one bad row never costs the rest of the file.
public struct CSVParser: Sendable {
    /// One row: its fields as text and the physical line it started on (1-based; the header is line 1).
    public struct Row: Sendable, Hashable {
        public var lineNumber: Int
        public var fields: [String]
        /// The row's bytes as they were in the file, without the line ending (what quarantine keeps).
        public var raw: [UInt8]

        public init(lineNumber: Int, fields: [String], raw: [UInt8]) {
            self.lineNumber = lineNumber
            self.fields = fields
            self.raw = raw
        }
    }

    /// A row that is not valid CSV.
    public struct MalformedRow: Sendable, Hashable, CustomStringConvertible {
        public var lineNumber: Int
        public var reason: String
        public var raw: [UInt8]
        public var description: String { "line \(lineNumber): \(reason)" }
    }

    public enum Output: Sendable, Hashable {
        case row(Row)
        case malformed(MalformedRow)
    }

    /// Longest row kept (bytes). Past it the row is reported malformed with its first `maximumRowBytes` bytes,
    /// so an unterminated quote cannot make the parser hold a whole file.
    public let maximumRowBytes: Int

    private enum State {
        case fieldStart, unquoted, quoted, quoteInQuoted
    }

    private var state = State.fieldStart
    private var field: [UInt8] = []
    private var fields: [[UInt8]] = []
    private var raw: [UInt8] = []
    private var problem: String?
    private var overflowed = false
    /// A CR seen outside quotes, waiting to learn whether an LF follows.
    private var pendingCarriageReturn = false
    private var line = 1
    private var rowStartLine = 1
    private var byteOrderMarkMatched = 0
    private var atStart = true

    public init(maximumRowBytes: Int = 1 << 20) {
        self.maximumRowBytes = maximumRowBytes
    }

    private static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]
    private static let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lineFeed = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")

    /// Parses `bytes`, calling `emit` for every row completed in them.
    public mutating func feed(_ bytes: some Sequence<UInt8>, _ emit: (Output) throws -> Void) rethrows {
        for byte in bytes {
            if atStart {
                // The byte order mark may be split across chunks: match it byte by byte.
                if byte == Self.byteOrderMark[byteOrderMarkMatched] {
                    byteOrderMarkMatched += 1
                    if byteOrderMarkMatched == Self.byteOrderMark.count { atStart = false }
                    continue
                }
                atStart = false
                // A partial mark is not a mark: its bytes are data (and invalid UTF-8, which the row reports).
                for earlier in Self.byteOrderMark.prefix(byteOrderMarkMatched) { try consume(earlier, emit) }
            }
            try consume(byte, emit)
        }
    }

    /// Ends the input: a last row without a line ending is emitted; an open quote makes it malformed.
    public mutating func finish(_ emit: (Output) throws -> Void) rethrows {
        if atStart {
            atStart = false
            for earlier in Self.byteOrderMark.prefix(byteOrderMarkMatched) { try consume(earlier, emit) }
        }
        if pendingCarriageReturn {
            pendingCarriageReturn = false
            try endRow(emit)
            return
        }
        if state == .quoted {
            note("a quoted field is not closed before the end of the file")
        }
        if !raw.isEmpty || !fields.isEmpty || state != .fieldStart || problem != nil {
            try endRow(emit)
        }
    }

    private mutating func consume(_ byte: UInt8, _ emit: (Output) throws -> Void) rethrows {
        if pendingCarriageReturn {
            pendingCarriageReturn = false
            if byte == Self.lineFeed {
                line += 1
                try endRow(emit)
                return
            }
            // RFC 4180 lines end with CRLF (and we accept LF); a lone CR outside quotes is neither.
            note("a carriage return not followed by a line feed outside quotes")
            keep(Self.carriageReturn)
            appendToField(Self.carriageReturn)
        }
        switch state {
        case .fieldStart:
            switch byte {
            case Self.quote: state = .quoted; keep(byte)
            case Self.comma: endField(); keep(byte)
            case Self.lineFeed: line += 1; try endRow(emit)
            case Self.carriageReturn: pendingCarriageReturn = true
            default: state = .unquoted; keep(byte); appendToField(byte)
            }
        case .unquoted:
            switch byte {
            case Self.comma: endField(); keep(byte)
            case Self.lineFeed: line += 1; try endRow(emit)
            case Self.carriageReturn: pendingCarriageReturn = true
            case Self.quote:
                note("a quote inside an unquoted field (quote the whole field and double the quote: \"\"\"\")")
                keep(byte); appendToField(byte)
            default: keep(byte); appendToField(byte)
            }
        case .quoted:
            keep(byte)
            if byte == Self.quote {
                state = .quoteInQuoted
            } else {
                if byte == Self.lineFeed { line += 1 }
                appendToField(byte)
            }
        case .quoteInQuoted:
            switch byte {
            case Self.quote: keep(byte); appendToField(byte); state = .quoted
            case Self.comma: endField(); keep(byte)
            case Self.lineFeed: line += 1; try endRow(emit)
            case Self.carriageReturn: pendingCarriageReturn = true
            default:
                note("text after the closing quote of a field")
                keep(byte); appendToField(byte); state = .unquoted
            }
        }
    }

    private mutating func keep(_ byte: UInt8) {
        guard raw.count < maximumRowBytes else {
            if !overflowed {
                overflowed = true
                note("the row is longer than \(maximumRowBytes) bytes")
            }
            return
        }
        raw.append(byte)
    }

    private mutating func appendToField(_ byte: UInt8) {
        if !overflowed { field.append(byte) }
    }

    private mutating func note(_ reason: String) {
        if problem == nil { problem = reason }
    }

    private mutating func endField() {
        fields.append(field)
        field.removeAll(keepingCapacity: true)
        state = .fieldStart
    }

    private mutating func endRow(_ emit: (Output) throws -> Void) rethrows {
        let startLine = rowStartLine
        rowStartLine = line
        defer {
            fields.removeAll(keepingCapacity: true)
            field.removeAll(keepingCapacity: true)
            raw.removeAll(keepingCapacity: true)
            problem = nil
            overflowed = false
            state = .fieldStart
        }
        // A blank line is not a row (and does not count towards a manifest's row count).
        if raw.isEmpty && fields.isEmpty && problem == nil { return }
        endField()
        if let problem {
            try emit(.malformed(MalformedRow(lineNumber: startLine, reason: problem, raw: raw)))
            return
        }
        var texts: [String] = []
        texts.reserveCapacity(fields.count)
        for (index, bytes) in fields.enumerated() {
            guard let text = String(validating: bytes, as: UTF8.self) else {
                try emit(.malformed(MalformedRow(lineNumber: startLine, reason: "field \(index + 1) is not valid UTF-8", raw: raw)))
                return
            }
            texts.append(text)
        }
        try emit(.row(Row(lineNumber: startLine, fields: texts, raw: raw)))
    }
}
