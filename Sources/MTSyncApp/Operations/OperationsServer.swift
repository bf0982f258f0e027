import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The HTTP endpoints an operator's monitoring reads, on `monitoring.listen`:
/// - `GET /metrics`: the Prometheus text exposition;
/// - `GET /healthz`: 200 while the process serves requests at all (a liveness probe: restart it when this fails);
/// - `GET /readyz`: 200 or 503 with a JSON body of the checks and why (`ReadinessCheck`).
/// A `Service` in the daemon's group: it starts and stops with the rest.
public struct OperationsServer: Service {
    public let host: String
    public let port: Int
    public let exposition: PrometheusExposition
    public let readiness: ReadinessCheck
    public let logger: Logger
    /// Told the bound port once the server listens (the tests listen on port 0).
    public let onListening: @Sendable (Int) async -> Void

    public init(
        host: String, port: Int, exposition: PrometheusExposition, readiness: ReadinessCheck, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.host = host
        self.port = port
        self.exposition = exposition
        self.readiness = readiness
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let router = Router()
        let exposition = self.exposition, readiness = self.readiness
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: PrometheusExposition.contentType],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: exposition.render())))
        }
        router.get("/healthz") { _, _ -> Response in
            Self.json(.ok, #"{"status":"alive"}"#)
        }
        router.get("/readyz") { _, _ -> Response in
            let report = await readiness.run()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let body = (try? encoder.encode(report)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"ready":false}"#
            return Self.json(report.ready ? .ok : .serviceUnavailable, body)
        }
        let logger = self.logger, onListening = self.onListening
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("monitoring endpoints listening", metadata: ["address": "\(host):\(port)", "paths": "/metrics /healthz /readyz"])
                await onListening(port)
            },
            logger: logger)
        try await app.run()
    }

    static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body + "\n")))
    }
}
