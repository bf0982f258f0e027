import MTSyncCore
import MTSyncEngine

/// Where and how the relay delivers the outbox (`ingest:` in the file, docs/configuration.md). Absent: the daemon
/// does not relay; events wait in the outbox (and `mtsync status` shows the backlog).
public struct IngestConfiguration: Sendable, Equatable {
    public enum Destination: Sendable, Equatable {
        case sqs(SQSDestination)
        case http(HTTPDestination)
    }

    public var destination: Destination

    /// `sqs` or `http`: the relay metrics' `sink` label.
    public var sinkName: String {
        switch destination {
        case .sqs: "sqs"
        case .http: "http"
        }
    }
    public var relay: RelaySettings
    /// `aggregate.hourly` events (docs/ingest.md); nil when `aggregates: off`.
    public var aggregates: AggregateSettings?

    public init(destination: Destination, relay: RelaySettings, aggregates: AggregateSettings? = .builtIn) {
        self.destination = destination
        self.relay = relay
        self.aggregates = aggregates
    }
}

/// An SQS queue. Credentials are AWS's own business (environment, profile): never in this file.
public struct SQSDestination: Sendable, Equatable {
    public var queueURL: String
    /// Nil: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's region.
    public var region: String?
    /// Nil: `AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL`, then AWS's regional endpoint.
    public var endpoint: String?
    /// Nil: `AWS_PROFILE`, then `default`.
    public var profile: String?
    /// FIFO message groups: `server_login` (default) or `server`.
    public var groupBy: String

    public init(queueURL: String, region: String?, endpoint: String?, profile: String?, groupBy: String) {
        self.queueURL = queueURL
        self.region = region
        self.endpoint = endpoint
        self.profile = profile
        self.groupBy = groupBy
    }

    /// Takes `other`'s endpoint, region and profile where this one sets none (an output beside `ingest.sqs`).
    public mutating func inherit(from other: SQSDestination) {
        endpoint = endpoint ?? other.endpoint
        region = region ?? other.region
        profile = profile ?? other.profile
    }

    /// Where requests will go, as `check-config` shows it: the configured endpoint, else `AWS_ENDPOINT_URL_SQS`,
    /// `AWS_ENDPOINT_URL`, else AWS's regional endpoint (the region configured, else `AWS_REGION`,
    /// `AWS_DEFAULT_REGION`). A profile's `endpoint_url` or region is not read here; the daemon reads them.
    public func effectiveEndpoint(environment: [String: String]) -> String {
        func env(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        if let endpoint { return endpoint }
        if let endpoint = env("AWS_ENDPOINT_URL_SQS") { return "\(endpoint) (AWS_ENDPOINT_URL_SQS)" }
        if let endpoint = env("AWS_ENDPOINT_URL") { return "\(endpoint) (AWS_ENDPOINT_URL)" }
        guard let region = region ?? env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") else {
            return "AWS's endpoint of the profile's region (no region configured, no AWS_REGION)"
        }
        return "https://sqs.\(region).amazonaws.com"
    }
}

/// The HTTP data-ingest endpoint.
public struct HTTPDestination: Sendable, Equatable {
    public var url: String
    /// The HMAC-SHA256 key of the signature header.
    public var secret: TextSecret
    /// Sent as `Authorization: Bearer …` when set.
    public var bearerToken: TextSecret?
    public var timeout: Duration
    public var maximumMessageBytes: Int

    public init(url: String, secret: TextSecret, bearerToken: TextSecret?, timeout: Duration, maximumMessageBytes: Int) {
        self.url = url
        self.secret = secret
        self.bearerToken = bearerToken
        self.timeout = timeout
        self.maximumMessageBytes = maximumMessageBytes
    }
}

/// A secret given as text (an HMAC key, a token) that does not print: `description`, interpolation, `dump` and
/// reflection all show `(secret)`. `reveal()` hands it out where it is used, which a reader cannot miss.
public struct TextSecret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let text: String

    public init(_ text: String) { self.text = text }

    public func reveal() -> String { text }

    public var description: String { "(secret)" }
    public var debugDescription: String { "(secret)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// When hourly aggregates are emitted (`ingest.aggregates`).
public struct AggregateSettings: Sendable, Equatable {
    /// How long after an hour closes its aggregate is first emitted: late deals inside it make no second revision.
    public var grace: Duration
    /// How often the daemon looks for hours that are due.
    public var every: Duration

    public static let builtIn = AggregateSettings(grace: .seconds(600), every: .seconds(60))

    public init(grace: Duration, every: Duration) {
        self.grace = grace
        self.every = every
    }
}
