import Foundation
import MTSyncIngest
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The cheapest HTTP data-ingest that is still honest: it reads every request body to its end, answers 200, and
/// counts requests and bytes — so what is timed is the relay, not a receiver. With `verifySecret` it also checks
/// each `X-Mtsync-Signature` as docs/ingest.md tells receivers to (401 when it fails), which costs an HMAC over
/// every body on the same two cores as the relay.
///
/// Lean on purpose (cf. Tests/MTSyncTestSupport/IngestHTTPServer.swift, which records every request for tests):
/// nothing is kept but counters.
final class LoopbackIngest: Sendable {
    let port: Int
    var url: String { "http://127.0.0.1:\(port)/v1/trading-facts" }
    let counters: Counters
    private let channel: any Channel

    final class Counters: Sendable {
        let requests = Atomic<Int>(0)
        let bodyBytes = Atomic<Int>(0)
        let badSignatures = Atomic<Int>(0)
    }

    static func start(verifySecret: [UInt8]?, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> LoopbackIngest {
        let counters = Counters()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(Handler(counters: counters, verifySecret: verifySecret))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return LoopbackIngest(port: channel.localAddress?.port ?? 0, channel: channel, counters: counters)
    }

    private init(port: Int, channel: any Channel, counters: Counters) {
        self.port = port
        self.channel = channel
        self.counters = counters
    }

    func stop() async {
        try? await channel.close()
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let counters: Counters
        let verifySecret: [UInt8]?
        private var head: HTTPRequestHead?
        private var bodyBytes = 0
        /// Only filled when verifying: the MAC covers the exact bytes.
        private var body: [UInt8] = []
        private static let accepted = ByteBuffer(string: #"{"accepted":true}"#)

        init(counters: Counters, verifySecret: [UInt8]?) {
            self.counters = counters
            self.verifySecret = verifySecret
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                bodyBytes = 0
                if verifySecret != nil {
                    body.removeAll(keepingCapacity: true)
                    body.reserveCapacity(head.headers.first(name: "Content-Length").flatMap(Int.init) ?? 0)
                }
            case .body(let buffer):
                bodyBytes += buffer.readableBytes
                if verifySecret != nil { body.append(contentsOf: buffer.readableBytesView) }
            case .end:
                guard let head else { return }
                self.head = nil
                counters.requests.add(1, ordering: .relaxed)
                counters.bodyBytes.add(bodyBytes, ordering: .relaxed)
                var status = HTTPResponseStatus.ok
                if let verifySecret {
                    let verdict = HTTPIngestSignature.verify(
                        key: verifySecret, timestampHeader: head.headers.first(name: HTTPIngestSignature.timestampHeader) ?? "",
                        signatureHeader: head.headers.first(name: HTTPIngestSignature.signatureHeader) ?? "", body: body,
                        now: Int64(Date().timeIntervalSince1970))
                    if verdict != .valid {
                        counters.badSignatures.add(1, ordering: .relaxed)
                        status = .unauthorized
                    }
                }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Content-Length", value: String(Self.accepted.readableBytes))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(Self.accepted))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
