import AsyncHTTPClient
import Foundation
import MTSyncCore
import MTSyncEngine
import MTSyncIngest
import MTSyncStore
import NIOCore

/// Builds the relay's sink from the configuration's `ingest:` section: the composition root is the only place that
/// knows both the configuration and the transports. Owns the HTTP client; `shutdown()` must be called.
public struct IngestSinks {
    public let httpClient: HTTPClient

    public init(requestsPerHost: Int = 8) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: requestsPerHost)
        configuration.timeout = .init(connect: .seconds(10))
        // The ingest must answer where it was configured; following a redirect would send signed data elsewhere.
        configuration.redirectConfiguration = .disallow
        httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async {
        try? await httpClient.shutdown()
    }

    /// The sink for `ingest`; reads an SQS queue's attributes first (fails when the queue cannot be reached).
    public func sink(for ingest: IngestConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> any IngestSink {
        switch ingest.destination {
        case .sqs(let destination):
            var environment = environment
            // The file's region and profile win over the environment's, as the reference documents.
            if let region = destination.region { environment["AWS_REGION"] = region }
            if let profile = destination.profile { environment["AWS_PROFILE"] = profile }
            let settings = try AWSSettings.resolve(
                service: "sqs", environment: environment,
                files: .locate(environment: environment, homeDirectory: environment["HOME"] ?? NSHomeDirectory()),
                endpoint: destination.endpoint)
            let client = SQSClient(settings: settings, httpClient: httpClient)
            return try await SQSSink.connect(client: client, queueURL: destination.queueURL, groupBy: destination.groupBy == "server" ? .server : .serverLogin)
        case .http(let destination):
            let configuration = HTTPIngestConfiguration(
                url: destination.url,
                secret: try HTTPIngestSecret(destination.secret.reveal()),
                credential: try destination.bearerToken.map { token throws(HTTPIngestError) in try HTTPIngestCredential.bearer(token.reveal()) },
                requestTimeout: destination.timeout,
                maximumMessageBytes: destination.maximumMessageBytes)
            return try HTTPIngestSink(configuration: configuration, httpClient: httpClient)
        }
    }

    /// The relay of `configuration` (whose `ingest` is `ingest`) on `connection`, with `bookkeeping` for its marks
    /// while the next round is sent: its own, so claims and marks never wait behind a server's page. Reads an SQS
    /// queue's attributes first.
    public func relay(
        for configuration: MTSyncConfiguration, ingest: IngestConfiguration, on connection: PostgresConnection, bookkeeping: PostgresConnection?
    ) async throws -> OutboxRelay {
        OutboxRelay(
            connection: connection, bookkeeping: bookkeeping, sink: try await sink(for: ingest), producer: IngestProducer(instance: configuration.instanceID),
            settings: ingest.relay,
            // Unique to this process: two relays of one instance never share claims.
            owner: "\(configuration.instanceID)/relay-\(UInt32.random(in: 0...UInt32.max))")
    }
}

/// `ingest:` is missing but a command needs it.
public struct IngestNotConfigured: Error, CustomStringConvertible {
    public init() {}

    public var description: String {
        "the configuration has no `ingest:` section, so there is nowhere to deliver to: add `ingest: {sqs: {queue_url: …}}` or `ingest: {http: {url: …, secret_env: …}}` (docs/configuration.md)"
    }
}
