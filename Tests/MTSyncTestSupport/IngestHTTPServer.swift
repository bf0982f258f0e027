import Foundation
import MTSyncIngest
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP data-ingest on loopback for the relay's tests: it checks each request's signature the way
/// docs/ingest.md tells receivers to, answers as the test's policy says (accept, fail with a status, or hang past
/// the client's timeout), and records what it acknowledged — recorded before the 200 is written, so "marked
/// delivered" can be checked against "acknowledged".
public final class IngestHTTPServer: Sendable {
    public enum Answer: Sendable {
        case accept
        case status(Int, retryAfter: String? = nil, body: String = "")
        /// Answer 200 only after this long (a client with a shorter timeout gives up first).
        case hang(Duration)
        /// Answer with this redirect status and `Location` (a client must not follow it with signed data).
        case redirect(Int, to: String)
    }

    public struct Request: Sendable {
        public var idempotencyKey: String?
        public var body: String
        public var signature: HTTPIngestSignature.Verification
        public var headers: [String: String]
    }

    /// Decides each request's answer from the request and its number (1, 2, …) among all requests.
    public typealias Policy = @Sendable (_ request: Request, _ number: Int) -> Answer

    public let port: Int
    public var url: String { "http://127.0.0.1:\(port)/v1/trading-facts" }
    private let channel: any Channel
    private let recorder: Recorder

    public static func start(secret: String, policy: @escaping Policy = { _, _ in .accept }) async throws -> IngestHTTPServer {
        let recorder = Recorder(secret: Array(secret.utf8), policy: policy)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(recorder: recorder))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return IngestHTTPServer(port: channel.localAddress?.port ?? 0, channel: channel, recorder: recorder)
    }

    private init(port: Int, channel: any Channel, recorder: Recorder) {
        self.port = port
        self.channel = channel
        self.recorder = recorder
    }

    public func stop() async {
        try? await channel.close()
    }

    /// Requests answered 2xx, in the order they were acknowledged.
    public var accepted: [Request] { recorder.snapshot().accepted }
    /// Every request received.
    public var received: [Request] { recorder.snapshot().received }

    /// The idempotency keys of every event in every acknowledged message.
    public func acceptedEventKeys() throws -> [String] {
        try accepted.flatMap { try ReceivedEvent.parse($0.body).map(\.idempotencyKey) }
    }

    final class Recorder: @unchecked Sendable {
        let secret: [UInt8]
        let policy: Policy
        private let lock = NSLock()
        private var received: [Request] = []
        private var accepted: [Request] = []

        init(secret: [UInt8], policy: @escaping Policy) {
            self.secret = secret
            self.policy = policy
        }

        func snapshot() -> (received: [Request], accepted: [Request]) {
            lock.withLock { (received, accepted) }
        }

        /// The answer for a request: 401 for a bad signature (as a receiver must), else the policy's.
        func answer(head: HTTPRequestHead, body: [UInt8]) -> (Answer, Request) {
            let verification = HTTPIngestSignature.verify(
                key: secret, timestampHeader: head.headers.first(name: HTTPIngestSignature.timestampHeader) ?? "",
                signatureHeader: head.headers.first(name: HTTPIngestSignature.signatureHeader) ?? "", body: body,
                now: Int64(Date().timeIntervalSince1970))
            var headers: [String: String] = [:]
            for (name, value) in head.headers { headers[name.lowercased()] = value }
            let request = Request(idempotencyKey: head.headers.first(name: "Idempotency-Key"), body: String(decoding: body, as: UTF8.self), signature: verification, headers: headers)
            let number = lock.withLock {
                received.append(request)
                return received.count
            }
            guard verification == .valid else { return (.status(401, body: "signature \(verification)"), request) }
            return (policy(request, number), request)
        }

        /// Called just before a 2xx is written, so what is recorded is exactly what was acknowledged.
        func record(_ request: Request) {
            lock.withLock { accepted.append(request) }
        }
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let recorder: Recorder
        private var head: HTTPRequestHead?
        private var body: [UInt8] = []

        init(recorder: Recorder) {
            self.recorder = recorder
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = []
            case .body(var buffer):
                body += buffer.readBytes(length: buffer.readableBytes) ?? []
            case .end:
                guard let head else { return }
                let (answer, request) = recorder.answer(head: head, body: body)
                switch answer {
                case .accept:
                    respond(context: context, version: head.version, status: 200, headers: [:], body: #"{"accepted":true}"#, acknowledging: request)
                case .status(let status, let retryAfter, let text):
                    respond(context: context, version: head.version, status: status, headers: retryAfter.map { ["Retry-After": $0] } ?? [:], body: text)
                case .redirect(let status, let location):
                    respond(context: context, version: head.version, status: status, headers: ["Location": location], body: "")
                case .hang(let delay):
                    let version = head.version
                    let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                    context.eventLoop.scheduleTask(in: .nanoseconds(Int64(delay.components.seconds) * 1_000_000_000 + Int64(delay.components.attoseconds / 1_000_000_000))) {
                        let (handler, context) = loopBound.value
                        handler.respond(context: context, version: version, status: 200, headers: [:], body: #"{"accepted":true}"#, acknowledging: request)
                    }
                }
                self.head = nil
            }
        }

        private func respond(context: ChannelHandlerContext, version: HTTPVersion, status: Int, headers: [String: String], body: String, acknowledging request: Request? = nil) {
            // A client that gave up (timed out) gets no acknowledgement, and none is recorded.
            guard context.channel.isActive else { return }
            if let request { recorder.record(request) }
            var responseHeaders = HTTPHeaders()
            responseHeaders.add(name: "Content-Type", value: "application/json")
            responseHeaders.add(name: "Content-Length", value: String(body.utf8.count))
            for (name, value) in headers { responseHeaders.add(name: name, value: value) }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status), headers: responseHeaders))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
