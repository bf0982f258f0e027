import CLibPQ
import MTSyncCore

/// Streams rows into a running `COPY … FROM STDIN` in PostgreSQL's text format, flushing to the server every
/// `flushThreshold` bytes, so a COPY of any size holds at most that much in memory.
///
/// Text format rules (PostgreSQL docs, "COPY — Text Format"): columns separated by a tab, rows ended by a
/// newline, NULL written as `\N`, and backslash, tab, newline and carriage return escaped with a backslash.
public struct CopyInWriter {
    private var buffer: [UInt8] = []
    private var atRowStart = true
    private let flushThreshold: Int
    private let send: ([UInt8]) throws(PostgresError) -> Void
    /// Rows ended with `endRow()` so far.
    public private(set) var rowCount = 0

    init(flushThreshold: Int = 256 * 1024, send: @escaping ([UInt8]) throws(PostgresError) -> Void) {
        self.flushThreshold = flushThreshold
        self.send = send
        buffer.reserveCapacity(flushThreshold + 4096)
    }

    /// Appends one column value; nil is SQL NULL.
    public mutating func append(_ value: String?) {
        startField()
        guard var value else { return appendNull() }
        value.withUTF8 { appendEscaped($0) }
    }

    /// Appends one column whose UTF-8 text `write` appends to the buffer it is given, escaped afterwards only if it
    /// holds a byte the text format escapes: a value written straight into the COPY buffer, never a `String` first
    /// (the outbox payload; issue 23: staging is client time that the page's transaction waits for).
    public mutating func append(writing write: (inout [UInt8]) -> Void) {
        startField()
        let start = buffer.count
        write(&buffer)
        guard buffer[start...].contains(where: Self.isEscaped) else { return }
        let written = Array(buffer[start...])
        buffer.removeSubrange(start...)
        written.withUnsafeBufferPointer { appendEscaped($0) }
    }

    /// Appends a decimal column in its canonical text: digits, `-` and `.`, nothing to escape.
    public mutating func append(_ value: ExactDecimal?) {
        startField()
        guard let value else { return appendNull() }
        value.write(into: &buffer)
    }

    /// Appends a `timestamptz` column, `YYYY-MM-DDTHH:MM:SS.mmm+00`, of a UTC millisecond count.
    public mutating func append(utcMilliseconds milliseconds: Int64) {
        startField()
        ServerTimeText.writeISO8601(milliseconds: milliseconds, into: &buffer)
        buffer.append(UInt8(ascii: "+"))
        buffer.append(UInt8(ascii: "0"))
        buffer.append(UInt8(ascii: "0"))
    }

    /// Appends an integer column; nil is SQL NULL.
    public mutating func append(_ value: Int64?) {
        guard let value else {
            startField()
            return appendNull()
        }
        append(value)
    }

    private mutating func appendNull() {
        buffer.append(UInt8(ascii: "\\"))
        buffer.append(UInt8(ascii: "N"))
    }

    private static func isEscaped(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
    }

    /// `bytes` with backslash, tab, newline and carriage return escaped; the runs between them copied whole.
    private mutating func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        for index in bytes.indices where Self.isEscaped(bytes[index]) {
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            buffer.append(UInt8(ascii: "\\"))
            switch bytes[index] {
            case UInt8(ascii: "\t"): buffer.append(UInt8(ascii: "t"))
            case UInt8(ascii: "\n"): buffer.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"): buffer.append(UInt8(ascii: "r"))
            default: buffer.append(UInt8(ascii: "\\"))
            }
            runStart = index + 1
        }
        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
    }

    /// Appends an integer column without going through `String`.
    public mutating func append(_ value: Int64) {
        startField()
        DecimalDigits.write(value, into: &buffer)
    }

    /// Appends whole rows rendered before (`CopyRows`), sent as they are.
    public mutating func append(_ rows: CopyRows) throws(PostgresError) {
        precondition(atRowStart, "rows appended in the middle of a row")
        try flush()
        for chunk in rows.chunks { try send(chunk) }
        rowCount += rows.count
    }

    /// Ends the current row; flushes to the server when the buffer is full.
    public mutating func endRow() throws(PostgresError) {
        buffer.append(UInt8(ascii: "\n"))
        atRowStart = true
        rowCount += 1
        if buffer.count >= flushThreshold { try flush() }
    }

    mutating func flush() throws(PostgresError) {
        guard !buffer.isEmpty else { return }
        try send(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    private mutating func startField() {
        if atRowStart {
            atRowStart = false
        } else {
            buffer.append(UInt8(ascii: "\t"))
        }
    }

    /// The bytes buffered and not yet sent; for tests of the encoding.
    var pendingBytes: [UInt8] { buffer }
}

/// Rows in COPY's text format rendered ahead of their COPY (`FactStore.plan`, before the page's transaction): kept as
/// the writer's flushed chunks, so a page's rows take their own size in memory, not a doubling array's.
public struct CopyRows: Sendable {
    public private(set) var chunks: [[UInt8]] = []
    public private(set) var count = 0

    public init() {}

    /// Renders rows with `render` (given a writer; each `endRow` is one row).
    public static func render(_ render: (inout CopyInWriter) throws(PostgresError) -> Void) throws(PostgresError) -> CopyRows {
        var chunks: [[UInt8]] = []
        var writer = CopyInWriter { chunks.append($0) }
        try render(&writer)
        try writer.flush()
        var rows = CopyRows()
        rows.chunks = chunks
        rows.count = writer.rowCount
        return rows
    }

    /// All the rows as one array (`mtsync-bench ceiling`'s files).
    public var bytes: [UInt8] { Array(chunks.joined()) }
}
