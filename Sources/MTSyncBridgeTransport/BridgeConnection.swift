import MTSyncBridge
import MTSyncCore
import NIOCore
import NIOPosix
import NIOSSL

/// Where a bridge listens and how to authenticate to it.
public struct BridgeEndpoint: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var key: BridgeKey
    public var connectTimeout: Duration
    /// Longest silence tolerated during a response (bridges send `progress` every 15 s while working).
    public var readTimeout: Duration
    /// Longest a request may take from sent to `end`, however busy the bridge says it is: a bridge that sends
    /// `progress` forever would otherwise hold the server's sync forever.
    public var requestTimeout: Duration
    /// TLS settings; nil for plain TCP (only on a trusted network: the handshake still protects the key).
    public var tls: BridgeTLS?

    public init(
        host: String, port: Int, key: BridgeKey, tls: BridgeTLS? = nil, connectTimeout: Duration = .seconds(10), readTimeout: Duration = .seconds(60),
        requestTimeout: Duration = .seconds(600)
    ) {
        self.host = host
        self.port = port
        self.key = key
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.requestTimeout = requestTimeout
    }

    public var description: String { "\(host):\(port)\(tls == nil ? "" : " over TLS") (key \(key.id))" }
}

/// Why talking to a bridge failed, with what to do: `retryable` failures (connection refused or dropped,
/// timeouts, the bridge's retryable errors) are worth another attempt later; the others need a person
/// (wrong key, unsupported version, a protocol violation).
public struct BridgeClientError: Error, Sendable, CustomStringConvertible {
    public let endpoint: String
    public let retryable: Bool
    public let reason: String
    /// The protocol error behind it, when there is one.
    public let protocolError: BridgeProtocolError?

    public var description: String { "bridge \(endpoint): \(reason)\(retryable ? " (will retry)" : "")" }
}

/// One page of MT5 deals and the position after it.
public struct DealsPage: Sendable {
    public let records: [MT5DealRecord]
    public let more: Bool
    /// `(TimeMsc, Deal)` of the last record: where the next page starts.
    public let next: (timeMsc: Int64, deal: UInt64)?
}

/// One page of MT4 trade records and the position after it.
public struct TradesPage: Sendable {
    public let records: [MT4TradeRecord]
    public let more: Bool
    /// Position of the last record (`end.next`): where the next page starts; nil when `more` is false.
    public let next: TradePosition?
}

/// An authenticated conversation with one bridge over TCP. Use it inside `BridgeConnection.withConnection`,
/// which connects, authenticates, runs the body and closes, whatever happens.
public struct BridgeConnection: ~Copyable {
    private var lines: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var session: BridgeClientSession
    private var nextRequestNumber = 0
    public let endpoint: BridgeEndpoint
    public private(set) var welcome: BridgeMessage.Welcome?

    /// Connects to `endpoint`, authenticates, runs `body`, closes the connection.
    public static func withConnection<Result: Sendable>(
        to endpoint: BridgeEndpoint,
        on group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ body: (inout BridgeConnection) async throws -> Result
    ) async throws -> Result {
        let readTimeout = TimeAmount.nanoseconds(Int64(endpoint.readTimeout.components.seconds) * 1_000_000_000 + endpoint.readTimeout.components.attoseconds / 1_000_000_000)
        let tlsContext: NIOSSLContext?
        do {
            tlsContext = try endpoint.tls?.makeContext()
        } catch {
            throw BridgeClientError(endpoint: endpoint.description, retryable: false, reason: "TLS settings unusable (check the CA, certificate and key files): \(error)", protocolError: nil)
        }
        let serverName = endpoint.tls?.serverName ?? endpoint.host
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(Int64(endpoint.connectTimeout.components.seconds)))
                .connect(host: endpoint.host, port: endpoint.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tlsContext {
                            // An IP address is not a valid SNI name; verification still checks it against the certificate.
                            let sni = serverName.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" } ? nil : serverName
                            try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tlsContext, serverHostname: sni))
                        }
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: readTimeout))
                        try channel.pipeline.syncOperations.addHandler(CloseOnReadIdle())
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder()))
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw BridgeClientError(endpoint: endpoint.description, retryable: true, reason: "cannot connect: \(error)", protocolError: nil)
        }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = BridgeConnection(lines: inbound.makeAsyncIterator(), outbound: outbound, session: BridgeClientSession(key: endpoint.key), endpoint: endpoint)
            try await connection.authenticate()
            return try await body(&connection)
        }
    }

    private init(lines: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, session: BridgeClientSession, endpoint: BridgeEndpoint) {
        self.lines = lines
        self.outbound = outbound
        self.session = session
        self.endpoint = endpoint
    }

    private mutating func authenticate() async throws {
        var generator = SystemRandomNumberGenerator()
        let clientNonce = BridgeKey.makeNonce(using: &generator)
        while welcome == nil {
            let message = try await receive()
            switch try deliver(message, clientNonce: clientNonce) {
            case .send(let line): try await send(line)
            case .ready(let info): welcome = info
            default: break
            }
        }
    }

    /// `server.info`: the bridge's own description (platform, zone rule, clocks, capabilities).
    public mutating func serverInfo() async throws -> JSONValue {
        var info: JSONValue?
        try await perform(method: "server.info", params: [:], maximumRecords: 1) { event in
            if case .record("server_info", let data) = event { info = data }
        }
        guard let info else { throw failure(retryable: true, "server.info returned no record") }
        return info
    }

    /// One page of MT5 deals with `from <= TimeMsc < to` (server time), after `after`, at most `limit`.
    public mutating func dealsPage(fromMilliseconds from: Int64, toMilliseconds to: Int64, after: (timeMsc: Int64, deal: UInt64)?, limit: Int) async throws -> DealsPage {
        var params: [(String, JSONValue)] = [("from_ms", .integer(from)), ("to_ms", .integer(to))]
        if let after { params.append(("after", ["time_msc": .integer(after.timeMsc), "deal": .string(String(after.deal))])) }
        params.append(("limit", .integer(limit)))
        var records: [MT5DealRecord] = []
        records.reserveCapacity(limit)
        let end = try await perform(method: "deals", params: .object(params), maximumRecords: limit) { event in
            if case .deal(let deal) = event { records.append(deal) }
        }
        var next: (Int64, UInt64)?
        if let position = end.next {
            guard let time = position["time_msc"]?.text.flatMap({ Int64($0) }), let deal = position["deal"]?.text.flatMap({ UInt64($0) }) else {
                throw failure(retryable: true, "the end of a deals page has an invalid next position")
            }
            next = (time, deal)
        }
        return DealsPage(records: records, more: end.more, next: next)
    }

    /// One page of MT4 trade records (§4.3). `.closed`: history records with `from <= close_time × 1000 < to`
    /// (server time) in `(close_time, order)` order after `after`; `.open`: the open trades in `order` order after
    /// `after` (the range is not sent). Records are decoded on the fast path, straight into `MT4TradeRecord`.
    public mutating func tradesPage(set: TradeSet, fromMilliseconds from: Int64 = 0, toMilliseconds to: Int64 = 0, after: TradePosition?, limit: Int) async throws -> TradesPage {
        var params: [(String, JSONValue)] = [("set", .string(set.rawValue))]
        if set == .closed { params += [("from_ms", .integer(from)), ("to_ms", .integer(to))] }
        if let after {
            switch (set, after.closeTime) {
            case (.closed, let time?): params.append(("after", ["time": .integer(time), "order": .string(String(after.order))]))
            case (.closed, nil): throw failure(retryable: false, "a position in the closed trades needs close_time as well as order")
            case (.open, _): params.append(("after", ["order": .string(String(after.order))]))
            }
        }
        params.append(("limit", .integer(limit)))
        var records: [MT4TradeRecord] = []
        records.reserveCapacity(limit)
        let end = try await perform(method: "trades", params: .object(params), maximumRecords: limit) { event in
            if case .trade(let trade) = event { records.append(trade) }
        }
        var next: TradePosition?
        if let position = end.next {
            guard let order = position["order"]?.text.flatMap({ UInt64($0) }) else {
                throw failure(retryable: true, "the end of a trades page has an invalid next position")
            }
            var time: Int64?
            if set == .closed {
                guard let closeTime = position["time"]?.text.flatMap({ Int64($0) }) else {
                    throw failure(retryable: true, "the end of a closed trades page has no next time")
                }
                time = closeTime
            }
            next = TradePosition(closeTime: time, order: order)
        }
        return TradesPage(records: records, more: end.more, next: next)
    }

    /// One page of accounts in ascending login order after `after`, as sent (the caller validates each, so one
    /// bad record is quarantined instead of failing the page); `next` is the page's `end.next`, the last login sent.
    public mutating func accountsPage(after: UInt64?, limit: Int) async throws -> (accounts: [RawAccountRecord], more: Bool, next: UInt64?) {
        var params: [(String, JSONValue)] = []
        if let after { params.append(("after", .string(String(after)))) }
        params.append(("limit", .integer(limit)))
        var accounts: [RawAccountRecord] = []
        let end = try await perform(method: "accounts", params: .object(params), maximumRecords: limit) { event in
            if case .record("account", let data) = event { accounts.append(RawAccountRecord(object: data)) }
        }
        return (accounts, end.more, end.next?.text.flatMap { UInt64($0) })
    }

    /// One page of end-of-day records (§4.8) of the server days starting in `[from, to)` (server time), after
    /// `after` in `(day, login)` order, at most `limit`, as sent (the caller validates each); `next` is `end.next`.
    public mutating func dailyPage(
        fromMilliseconds from: Int64, toMilliseconds to: Int64, after: (day: String, login: UInt64)?, limit: Int
    ) async throws -> (records: [RawDailyRecord], more: Bool, next: (day: String, login: UInt64)?) {
        var params: [(String, JSONValue)] = [("from_ms", .integer(from)), ("to_ms", .integer(to))]
        if let after { params.append(("after", ["day": .string(after.day), "login": .string(String(after.login))])) }
        params.append(("limit", .integer(limit)))
        var records: [RawDailyRecord] = []
        let end = try await perform(method: "daily", params: .object(params), maximumRecords: limit) { event in
            if case .record("daily", let data) = event { records.append(RawDailyRecord(object: data)) }
        }
        var next: (String, UInt64)?
        if let position = end.next {
            guard let day = position["day"]?.text, let login = position["login"]?.text.flatMap({ UInt64($0) }) else {
                throw failure(retryable: true, "the end of a daily page has an invalid next position")
            }
            next = (day, login)
        }
        return (records, end.more, next)
    }

    /// The bridge's symbol list (contract sizes, currencies, paths), as sent.
    public mutating func symbols() async throws -> [JSONValue] {
        var symbols: [JSONValue] = []
        try await perform(method: "symbols", params: ["limit": .integer(Self.symbolLimit)], maximumRecords: Self.symbolLimit) { event in
            if case .record("symbol", let data) = event { symbols.append(data) }
        }
        return symbols
    }

    /// Per-bucket counts, volumes and checksums over `[from, to)` (server time).
    public mutating func digest(stream: String = "deals", fromMilliseconds from: Int64, toMilliseconds to: Int64, bucketMilliseconds: Int64) async throws -> [DigestBucket] {
        var buckets: [DigestBucket] = []
        // One bucket per bucket_ms in [from, to) (§4.7: both ends are multiples of it); one more is tolerated for a
        // bridge that aligns an unaligned range outward. Anything beyond is not a digest of this range.
        let expected = bucketMilliseconds > 0 && to > from ? Int((to - from - 1) / bucketMilliseconds) + 2 : 1
        try await perform(
            method: "digest", params: ["stream": .string(stream), "from_ms": .integer(from), "to_ms": .integer(to), "bucket_ms": .integer(bucketMilliseconds)],
            maximumRecords: expected
        ) { event in
            if case .record("bucket", let data) = event { buckets.append(try DigestBucket(data)) }
        }
        return buckets
    }

    /// Edits and deletions with a sequence above `since`.
    public mutating func changesPage(since: Int64, limit: Int) async throws -> (changes: [BridgeChange], more: Bool) {
        var changes: [BridgeChange] = []
        let end = try await perform(method: "changes", params: ["since": .integer(since), "limit": .integer(limit)], maximumRecords: limit) { event in
            if case .record("change", let data) = event { changes.append(try BridgeChange(data)) }
        }
        return (changes, end.more)
    }

    /// The most symbols asked for, and taken.
    static let symbolLimit = 10_000

    /// Sends a request and feeds each record to `onRecord` until its `end`. A bridge that sends more than
    /// `maximumRecords` (the request's own limit) is refused before it can fill memory, and one still not done after
    /// `requestTimeout` is given up on (docs/security.md, G3).
    @discardableResult
    private mutating func perform(
        method: String, params: JSONValue, maximumRecords: Int, _ onRecord: (BridgeClientSession.Event) throws -> Void
    ) async throws -> BridgeMessage.End {
        let deadline = ContinuousClock.now.advanced(by: endpoint.requestTimeout)
        var records = 0
        nextRequestNumber += 1
        let line: [UInt8]
        do {
            line = try session.request(id: "r\(nextRequestNumber)", method: method, params: params)
        } catch {
            throw failure(error)
        }
        try await send(line)
        while true {
            let event = try deliver(try await receive(), clientNonce: "")
            if ContinuousClock.now > deadline {
                throw failure(retryable: true, "the bridge has not finished `\(method)` after \(endpoint.requestTimeout) (bridge.request_timeout); giving up on this request, it is tried again later")
            }
            switch event {
            case .finished(let end): return end
            case .progress, .pong: continue
            default:
                records += 1
                if records > maximumRecords {
                    throw failure(retryable: false, "the bridge sent more than \(maximumRecords) records for a `\(method)` request that asked for at most \(maximumRecords): refusing the answer before it fills memory; check the bridge with `mtsync bridge check`")
                }
                do {
                    try onRecord(event)
                } catch let error as BridgeProtocolError {
                    throw failure(error)
                }
            }
        }
    }

    private mutating func deliver(_ message: BridgeMessage, clientNonce: String) throws -> BridgeClientSession.Event {
        do {
            return try session.receive(message, clientNonce: clientNonce, nowMilliseconds: Self.utcNowMilliseconds())
        } catch {
            throw failure(error)
        }
    }

    private mutating func receive() async throws -> BridgeMessage {
        let line: ByteBuffer?
        do {
            line = try await lines.next()
        } catch let error as LineFrameDecoder.LineTooLong {
            throw failure(BridgeProtocolError(code: .lineTooLong, retryable: true, message: error.description))
        } catch let error as NIOSSLError {
            // A refused certificate is a configuration problem, not a network hiccup: do not retry blindly.
            throw failure(retryable: false, "TLS handshake failed (check the CA file, the bridge's certificate and its name): \(error)")
        } catch let error as NIOSSLExtraError {
            // Includes a certificate that does not carry the bridge's name.
            throw failure(retryable: false, "TLS handshake failed (check the CA file, the bridge's certificate and its name): \(error)")
        } catch let error as BoringSSLError {
            throw failure(retryable: false, "TLS handshake failed (check the CA file, the bridge's certificate and its name): \(error)")
        } catch {
            throw failure(retryable: true, "connection failed: \(error)")
        }
        guard let line else { throw failure(retryable: true, "the bridge closed the connection (or sent nothing for \(endpoint.readTimeout))") }
        do {
            return try BridgeMessage(line: line.readableBytesView)
        } catch {
            throw failure(error)
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
            throw failure(retryable: true, "cannot send: \(error)")
        }
    }

    private func failure(_ error: BridgeProtocolError) -> BridgeClientError {
        BridgeClientError(endpoint: endpoint.description, retryable: error.retryable, reason: error.description, protocolError: error)
    }

    private func failure(retryable: Bool, _ reason: String) -> BridgeClientError {
        BridgeClientError(endpoint: endpoint.description, retryable: retryable, reason: reason, protocolError: nil)
    }

    /// Wall-clock UTC now, for the handshake's `time_ms`.
    public static func utcNowMilliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }
}

/// Closes the channel when nothing was read for the read timeout, which ends the inbound stream.
final class CloseOnReadIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
