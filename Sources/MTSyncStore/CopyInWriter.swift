import CLibPQ

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
        guard let value else {
            buffer.append(UInt8(ascii: "\\"))
            buffer.append(UInt8(ascii: "N"))
            return
        }
        var text = value
        text.withUTF8 { bytes in
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\\"): buffer.append(UInt8(ascii: "\\")); buffer.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "\t"): buffer.append(UInt8(ascii: "\\")); buffer.append(UInt8(ascii: "t"))
                case UInt8(ascii: "\n"): buffer.append(UInt8(ascii: "\\")); buffer.append(UInt8(ascii: "n"))
                case UInt8(ascii: "\r"): buffer.append(UInt8(ascii: "\\")); buffer.append(UInt8(ascii: "r"))
                default: buffer.append(byte)
                }
            }
        }
    }

    /// Appends an integer column without going through `String`.
    public mutating func append(_ value: Int64) {
        startField()
        if value == 0 {
            buffer.append(UInt8(ascii: "0"))
            return
        }
        if value < 0 { buffer.append(UInt8(ascii: "-")) }
        // Digits come out least significant first: write them, then reverse them in place.
        let firstDigit = buffer.count
        var magnitude = value.magnitude
        while magnitude > 0 {
            buffer.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        }
        buffer[firstDigit...].reverse()
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
