import NIOCore

/// Splits a TCP byte stream into protocol lines (bridge-protocol/README.md §1): `\n`-terminated, a `\r` before it
/// dropped, at most `maximumLength` bytes. A longer line is an error, raised as soon as the limit is passed, so a
/// peer cannot make us buffer without bound. (The bridge side: a client's over-long line ends the connection.)
public struct LineFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    public struct LineTooLong: Error, CustomStringConvertible {
        public let limit: Int
        public var description: String { "a line exceeded the protocol's limit of \(limit) bytes" }
    }

    public let maximumLength: Int
    private var scanned = 0

    /// The protocol's limit: 1 MiB, not counting the newline.
    public static let protocolMaximum = 1_048_576

    public init(maximumLength: Int = Self.protocolMaximum) {
        self.maximumLength = maximumLength
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        let searchStart = view.index(view.startIndex, offsetBy: scanned)
        guard let newline = view[searchStart...].firstIndex(of: 0x0A) else {
            scanned = view.count
            if view.count > maximumLength + 1 { throw LineTooLong(limit: maximumLength) }
            return .needMoreData
        }
        var length = view.distance(from: view.startIndex, to: newline)
        let lineAndNewline = length + 1
        if length > 0, view[view.index(view.startIndex, offsetBy: length - 1)] == 0x0D { length -= 1 }
        guard length <= maximumLength else { throw LineTooLong(limit: maximumLength) }
        let line = buffer.getSlice(at: buffer.readerIndex, length: length)!
        buffer.moveReaderIndex(forwardBy: lineAndNewline)
        scanned = 0
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A partial last line without its newline is not a message: it is dropped when the peer closes.
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// One line as mtsync's client receives it from a bridge.
public enum BridgeFrame: Sendable {
    /// A whole line, without its newline.
    case line(ByteBuffer)
    /// A line longer than the protocol allows: its first bytes (kept for the quarantine) and its whole length.
    case tooLong(prefix: ByteBuffer, length: Int)
}

/// The client's framer: like `LineFrameDecoder`, but a line over the limit does not end the conversation. Its
/// bytes are dropped as they arrive (never buffered past the limit), its first `keptPrefix` bytes are kept, and it
/// is delivered as `.tooLong` when its newline comes: one bad record then costs that record (quarantined with its
/// prefix), not the page around it nor, by a retry that meets it again, the whole server (bridge-protocol §1).
public struct BridgeFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = BridgeFrame

    public let maximumLength: Int
    public let keptPrefix: Int
    private var scanned = 0
    /// While skipping an over-long line: its prefix and how many bytes of it went by.
    private var skipping: (prefix: ByteBuffer, length: Int)?

    public init(maximumLength: Int = LineFrameDecoder.protocolMaximum, keptPrefix: Int = 4_096) {
        self.maximumLength = maximumLength
        self.keptPrefix = min(keptPrefix, maximumLength)
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if var skipped = skipping {
            let view = buffer.readableBytesView
            guard let newline = view.firstIndex(of: 0x0A) else {
                skipped.length += view.count
                buffer.moveReaderIndex(forwardBy: view.count)
                skipping = skipped
                return .needMoreData
            }
            let consumed = view.distance(from: view.startIndex, to: newline) + 1
            skipped.length += consumed - 1
            buffer.moveReaderIndex(forwardBy: consumed)
            skipping = nil
            context.fireChannelRead(wrapInboundOut(.tooLong(prefix: skipped.prefix, length: skipped.length)))
            return .continue
        }
        let view = buffer.readableBytesView
        let searchStart = view.index(view.startIndex, offsetBy: scanned)
        guard let newline = view[searchStart...].firstIndex(of: 0x0A) else {
            scanned = view.count
            if view.count > maximumLength + 1 {
                // Keep the prefix, drop the rest, and skip to the newline from now on.
                skipping = (buffer.getSlice(at: buffer.readerIndex, length: keptPrefix)!, view.count)
                buffer.moveReaderIndex(forwardBy: view.count)
                scanned = 0
                return .continue
            }
            return .needMoreData
        }
        var length = view.distance(from: view.startIndex, to: newline)
        let lineAndNewline = length + 1
        if length > 0, view[view.index(view.startIndex, offsetBy: length - 1)] == 0x0D { length -= 1 }
        scanned = 0
        if length > maximumLength {
            let prefix = buffer.getSlice(at: buffer.readerIndex, length: keptPrefix)!
            buffer.moveReaderIndex(forwardBy: lineAndNewline)
            context.fireChannelRead(wrapInboundOut(.tooLong(prefix: prefix, length: length)))
            return .continue
        }
        let line = buffer.getSlice(at: buffer.readerIndex, length: length)!
        buffer.moveReaderIndex(forwardBy: lineAndNewline)
        context.fireChannelRead(wrapInboundOut(.line(line)))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}
