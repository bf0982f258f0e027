import NIOCore

/// Splits a TCP byte stream into protocol lines (bridge-protocol/README.md §1): `\n`-terminated, a `\r` before it
/// dropped, at most `maximumLength` bytes. A longer line is an error, raised as soon as the limit is passed, so a
/// peer cannot make us buffer without bound.
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
