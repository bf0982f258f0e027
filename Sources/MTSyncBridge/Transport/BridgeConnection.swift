import MTSyncCore
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// An authenticated conversation with one bridge over TCP. Use it inside `BridgeConnection.withConnection`,
/// which connects, authenticates, runs the body and closes, whatever happens.
///
/// **Deadlines** (bridge-protocol §5), each enforced on the event loop by closing the channel, so no byte pattern
/// from the bridge can hold a task past them: the handshake (`handshakeTimeout` from connect to `welcome`), every
/// line (`readTimeout`: counted in whole lines, after the framer), and every request (`requestTimeout` from sent to
/// `end`, `progress` or not).
public struct BridgeConnection: ~Copyable {
    private var lines: NIOAsyncChannelInboundStream<BridgeFrame>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let channel: any Channel
    private var session: BridgeClientSession
    private var nextRequestNumber = 0
    /// The deadline running now: when it falls, what it bounds, and the close scheduled for it.
    private var deadline: (instant: ContinuousClock.Instant, what: String, close: Scheduled<Void>, fired: DeadlineFired)?
    /// Marked when the read timeout closed the channel: the inbound stream's end is then that timeout, not the
    /// bridge closing the connection.
    private let readIdleClosed: DeadlineFired
    public let endpoint: BridgeEndpoint
    public private(set) var welcome: BridgeMessage.Welcome?
    /// When the last exchange ended: a session pings after 30 s of this (§3's keep-alive).
    public private(set) var lastActivity = ContinuousClock.now

    /// Connects to `endpoint`, authenticates, runs `body`, closes the connection.
    public static func withConnection<Result: Sendable>(
        to endpoint: BridgeEndpoint,
        on group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ body: (inout BridgeConnection) async throws -> Result
    ) async throws -> Result {
        let readTimeout = TimeAmount(endpoint.readTimeout)
        let tlsContext: NIOSSLContext?
        do {
            tlsContext = try endpoint.tls?.makeContext()
        } catch {
            throw BridgeClientError(endpoint: endpoint.description, kind: .configuration, transport: .tls, retryable: false, reason: "TLS settings unusable (check the CA, certificate and key files): \(error)", protocolError: nil)
        }
        let serverName = endpoint.tls?.serverName ?? endpoint.host
        let readIdleClosed = DeadlineFired()
        let channel: NIOAsyncChannel<BridgeFrame, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(endpoint.connectTimeout))
                .connect(host: endpoint.host, port: endpoint.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tlsContext {
                            // An IP address is not a valid SNI name; verification still checks it against the certificate.
                            let sni = serverName.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" } ? nil : serverName
                            try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tlsContext, serverHostname: sni))
                        }
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(BridgeFrameDecoder()))
                        // After the framer, so only whole lines count as reading: bytes trickled without a newline
                        // do not keep the connection alive.
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: readTimeout))
                        try channel.pipeline.syncOperations.addHandler(CloseOnReadIdle(marking: readIdleClosed))
                        return try NIOAsyncChannel<BridgeFrame, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw BridgeClientError(endpoint: endpoint.description, kind: .unreachable, transport: .connectFailed, retryable: true, reason: "cannot connect: \(error)", protocolError: nil)
        }
        let raw = channel.channel
        return try await channel.executeThenClose { inbound, outbound in
            var connection = BridgeConnection(lines: inbound.makeAsyncIterator(), outbound: outbound, channel: raw, readIdleClosed: readIdleClosed, session: BridgeClientSession(key: endpoint.key), endpoint: endpoint)
            try await connection.authenticate()
            return try await body(&connection)
        }
    }

    private init(lines: NIOAsyncChannelInboundStream<BridgeFrame>.AsyncIterator, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, channel: any Channel, readIdleClosed: DeadlineFired, session: BridgeClientSession, endpoint: BridgeEndpoint) {
        self.lines = lines
        self.outbound = outbound
        self.channel = channel
        self.readIdleClosed = readIdleClosed
        self.session = session
        self.endpoint = endpoint
    }

    private mutating func authenticate() async throws {
        arm(endpoint.handshakeTimeout, "the handshake (hello, auth, welcome)", setting: "bridge.handshake_timeout")
        var generator = SystemRandomNumberGenerator()
        let clientNonce = BridgeKey.makeNonce(using: &generator)
        while welcome == nil {
            switch try await receive() {
            case .message(let message):
                switch try deliver(message, clientNonce: clientNonce) {
                case .send(let line): try await send(line)
                case .ready(let info): welcome = info
                default: break
                }
            case .unreadable(let line):
                // The usual cause: something else listens on this port (an SSH or HTTP server says its own hello).
                throw failure(kind: .protocolViolation, retryable: true, "the peer's first lines are not the protocol's hello (\(line.reason)); it began: "
                    + "\(Self.printable(line.raw)); is `bridge.port` the bridge's port?")
            }
        }
        disarm()
        lastActivity = .now
    }

    /// Sends `ping` and waits for its `pong` (§3's keep-alive on an idle session).
    public mutating func ping() async throws {
        nextRequestNumber += 1
        let id = "k\(nextRequestNumber)"
        arm(endpoint.readTimeout, "a ping's pong", setting: "bridge.read_timeout")
        try await send(BridgeOutgoing.ping(id: id))
        while true {
            if case .message(let message) = try await receive(), case .pong(let answered) = try deliver(message, clientNonce: ""), answered == id { break }
        }
        disarm()
        lastActivity = .now
    }

    /// The most bytes of one unreadable line kept for the quarantine, and of all such lines of one answer.
    static let maximumRejectedLine = 65_536
    static let maximumRejectedBytes = 8 * 1_048_576

    /// The most symbols asked for, and taken.
    static let symbolLimit = 10_000

    /// Sends a request and feeds each record to `onRecord` until its `end`. A bridge that sends more than
    /// `maximumRecords` (the request's own limit) is refused before it can fill memory, and one still not done after
    /// `requestTimeout` is given up on (docs/security.md, G3). With `rejectingUnreadable`, a line that cannot be read
    /// is returned as a rejected line and the answer goes on; without, it fails the request.
    @discardableResult
    mutating func perform(
        method: String, params: JSONValue, maximumRecords: Int, rejectingUnreadable: Bool = true, _ onRecord: (BridgeClientSession.Event) throws -> Void
    ) async throws -> (end: BridgeMessage.End, notes: ResponseNotes) {
        var records = 0, rejectedBytes = 0
        var notes = ResponseNotes()
        nextRequestNumber += 1
        let line: [UInt8]
        do {
            line = try session.request(id: "r\(nextRequestNumber)", method: method, params: params)
        } catch {
            throw failure(error)
        }
        arm(endpoint.requestTimeout, "`\(method)`", setting: "bridge.request_timeout")
        try await send(line)
        while true {
            let event: BridgeClientSession.Event
            switch try await receive() {
            case .message(let message):
                event = try deliver(message, clientNonce: "")
            case .unreadable(let rejected):
                guard rejectingUnreadable else {
                    throw failure(kind: .protocolViolation, retryable: true, "a line of the `\(method)` answer cannot be read (\(rejected.reason)): \(Self.printable(rejected.raw))")
                }
                // Counted apart from the records (a bad line may be an extra line, not one of the page's): each bound
                // by the limit, so memory stays bounded either way.
                if notes.rejected.count >= maximumRecords { throw tooMany(method: method, maximumRecords) }
                rejectedBytes += rejected.raw.count
                guard rejectedBytes <= Self.maximumRejectedBytes else {
                    throw failure(kind: .protocolViolation, retryable: true, "more than \(Self.maximumRejectedBytes / 1_048_576) MiB of the `\(method)` answer cannot be read: refusing it rather than keeping it for the quarantine")
                }
                notes.rejected.append(rejected)
                continue
            }
            switch event {
            case .finished(let end):
                disarm()
                lastActivity = .now
                if end.count != records + notes.rejected.count {
                    notes.anomalies.append(BridgeAnomaly(code: "count_mismatch", message: "`\(method)` ended with count \(end.count) but \(records + notes.rejected.count) lines arrived"))
                }
                return (end, notes)
            case .progress, .pong: continue
            case .stray(let what):
                notes.anomalies.append(BridgeAnomaly(code: "stray_line", message: what))
                continue
            default:
                records += 1
                if records > maximumRecords { throw tooMany(method: method, maximumRecords) }
                do {
                    try onRecord(event)
                } catch let error as BridgeProtocolError {
                    throw failure(error)
                }
            }
        }
    }

    private func tooMany(method: String, _ maximumRecords: Int) -> BridgeClientError {
        failure(kind: .protocolViolation, retryable: true, "the bridge sent more than \(maximumRecords) records for a `\(method)` request that asked for at most \(maximumRecords): refusing the answer before it fills memory; check the bridge with `mtsync bridge check`")
    }

    private mutating func deliver(_ message: BridgeMessage, clientNonce: String) throws -> BridgeClientSession.Event {
        do {
            return try session.receive(message, clientNonce: clientNonce, nowMilliseconds: Self.utcNowMilliseconds())
        } catch {
            throw failure(error)
        }
    }

    /// One line from the bridge.
    private enum Incoming {
        case message(BridgeMessage)
        case unreadable(RejectedLine)
    }

    private mutating func receive() async throws -> Incoming {
        let frame: BridgeFrame?
        do {
            frame = try await lines.next()
        } catch let error as NIOSSLError {
            // A refused certificate is a configuration problem, not a network hiccup: do not retry blindly.
            throw failure(kind: .configuration, transport: .tls, retryable: false, "TLS handshake failed (check the CA file, the bridge's certificate and its name): \(error)")
        } catch let error as NIOSSLExtraError {
            // Includes a certificate that does not carry the bridge's name.
            throw failure(kind: .configuration, transport: .tls, retryable: false, "TLS handshake failed (check the CA file, the bridge's certificate and its name): \(error)")
        } catch let error as BoringSSLError {
            throw failure(kind: .configuration, transport: .tls, retryable: false, "TLS handshake failed (check the CA file, the bridge's certificate and its name): \(error)")
        } catch {
            throw deadlineFailure() ?? failure(kind: .unreachable, transport: .of(error), retryable: true, "connection failed: \(error)")
        }
        guard let frame else {
            // The stream ends when the channel closes: a deadline's close, the read timeout's, or the bridge's own
            // (a dropped connection: `connection_closed`, not a timeout, in metrics and for the lease).
            if let deadline = deadlineFailure() { throw deadline }
            if readIdleClosed.isMarked {
                throw failure(kind: .timeout, retryable: true, "the bridge sent no complete line for \(endpoint.readTimeout) (bridge.read_timeout); the connection was closed, and the work is tried again later")
            }
            throw failure(kind: .unreachable, transport: .connectionClosed, retryable: true, "the bridge closed the connection before its answer was complete; the work is tried again later")
        }
        switch frame {
        case .tooLong(let prefix, let length):
            return .unreadable(RejectedLine(
                code: "line_too_long", reason: "a line of \(length) bytes, over the protocol's limit of \(LineFrameDecoder.protocolMaximum) (its first \(prefix.readableBytes) bytes kept)",
                raw: Array(prefix.readableBytesView)))
        case .line(let line):
            do {
                return .message(try BridgeMessage(line: line.readableBytesView))
            } catch {
                // A record is about 500 bytes: 64 KiB of a bad line is all of any plausible one, and bounds what a
                // bridge sending bad megabyte lines can make mtsync keep.
                let kept = line.readableBytesView.prefix(Self.maximumRejectedLine)
                let note = line.readableBytes > kept.count ? " (its first \(kept.count) of \(line.readableBytes) bytes kept)" : ""
                return .unreadable(RejectedLine(code: "malformed_line", reason: error.message + note, raw: Array(kept)))
            }
        }
    }

    private func send(_ line: [UInt8]) async throws {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(line.count + 1)
        buffer.writeBytes(line)
        buffer.writeInteger(UInt8(ascii: "\n"))
        do {
            try await outbound.write(buffer)
        } catch {
            throw deadlineFailure() ?? failure(kind: .unreachable, transport: .of(error), retryable: true, "cannot send: \(error)")
        }
    }

    /// Starts the deadline of what comes next: when it falls, the channel is closed on its event loop, which ends
    /// any read or write in progress; the failure then says which deadline it was.
    private mutating func arm(_ limit: Duration, _ what: String, setting: String) {
        deadline?.close.cancel()
        let channel = self.channel, fired = DeadlineFired()
        let close = channel.eventLoop.scheduleTask(in: TimeAmount(limit)) {
            fired.mark()
            channel.close(promise: nil)
        }
        deadline = (ContinuousClock.now.advanced(by: limit), "\(what) did not finish within \(limit) (\(setting))", close, fired)
    }

    private mutating func disarm() {
        deadline?.close.cancel()
        deadline = nil
    }

    private func deadlineFailure() -> BridgeClientError? {
        // The close itself says so: the event loop's clock and this one are read at different moments, and on a
        // loaded machine the close can come before `instant` by this clock (a deadline reported as a dropped line).
        guard let deadline, deadline.fired.isMarked || ContinuousClock.now >= deadline.instant else { return nil }
        return failure(kind: .timeout, retryable: true, deadline.what + "; the connection was closed, and the work is tried again later")
    }

    func failure(_ error: BridgeProtocolError) -> BridgeClientError {
        // The message is the bridge's own text: scrubbed of the key and anything that reads like a secret before it
        // reaches a log line or `status`.
        let error = BridgeProtocolError(code: error.code, retryable: error.retryable, message: endpoint.key.scrubbed(error.message), requestID: error.requestID)
        return BridgeClientError(endpoint: endpoint.description, retryable: error.retryable, reason: error.description, protocolError: error)
    }

    func failure(kind: BridgeClientError.Kind, transport: BridgeClientError.Transport? = nil, retryable: Bool, _ reason: String) -> BridgeClientError {
        BridgeClientError(endpoint: endpoint.description, kind: kind, transport: transport ?? (kind == .timeout ? .timeout : .other), retryable: retryable, reason: reason, protocolError: nil)
    }

    /// At most 120 characters of what a bridge sent, control characters escaped: enough to recognise it in a log,
    /// too little to carry a record's worth of data into it.
    static func printable(_ bytes: some Collection<UInt8>) -> String {
        let text = String(decoding: bytes.prefix(120), as: UTF8.self)
        let escaped = text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
        return String(reflecting: escaped) + (bytes.count > 120 ? "…" : "")
    }

    /// Wall-clock UTC now, for the handshake's `time_ms`.
    public static func utcNowMilliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }
}

