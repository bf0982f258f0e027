import Crypto
import MTSyncCore

/// One message to the ingest: a versioned envelope carrying one or more events of one server (docs/ingest.md).
public struct IngestMessage: Sendable, Hashable {
    /// Deterministic from the events' idempotency keys: the same events always make the same key, so a resend
    /// after a crash is recognisable (SQS FIFO `MessageDeduplicationId`, HTTP `Idempotency-Key`).
    public var key: String
    /// The FIFO message group (`server:login` by default), nil for standard queues and HTTP.
    public var groupID: String?
    public var body: String
    /// The outbox rows this message carries: marked delivered together when it is acknowledged.
    public var eventIDs: [Int64]

    public var byteCount: Int { body.utf8.count }

    public init(key: String, groupID: String?, body: String, eventIDs: [Int64]) {
        self.key = key
        self.groupID = groupID
        self.body = body
        self.eventIDs = eventIDs
    }
}

/// Who sends: written into every envelope so the ingest can tell producers and versions apart.
public struct IngestProducer: Sendable, Hashable {
    public var name: String
    public var version: String
    public var instance: String

    public init(name: String = "mtsync", version: String = BuildInfo.version, instance: String) {
        self.name = name
        self.version = version
        self.instance = instance
    }
}

/// The envelope, written by hand around the stored payloads (which are JSON already).
public enum IngestEnvelope {
    public static let schemaName = "mtsync.ingest"
    public static let schemaVersion = 1

    /// The message key of a list of events: SHA-256 over their idempotency keys, hex, prefixed with the schema
    /// version so a future envelope never collides with this one.
    public static func key(of events: some Collection<IngestEvent>) -> String {
        var hasher = SHA256()
        for event in events {
            hasher.update(data: Array(event.idempotencyKey.utf8))
            hasher.update(data: [0x0A])
        }
        return "v\(schemaVersion)-" + Hex.encode(Array(hasher.finalize()))
    }

    /// The message body for events already written as JSON by `eventJSON` (all of one server and platform): the
    /// packer writes each event once, to measure it and then to send it.
    static func body(eventJSON events: [String], key: String, server: String, platform: Platform, backfill: Bool, producer: IngestProducer) -> String {
        prefix(key: key, server: server, platform: platform, backfill: backfill, producer: producer) + events.joined(separator: ",") + "]}"
    }

    /// Everything before the first event; `body` = prefix + events joined by commas + `]}`.
    static func prefix(key: String, server: String, platform: Platform, backfill: Bool, producer: IngestProducer) -> String {
        """
        {"schema":"\(schemaName)","schema_version":\(schemaVersion),"producer":{"name":\(JSONText.quoted(producer.name)),"version":\(JSONText.quoted(producer.version)),"instance":\(JSONText.quoted(producer.instance))},\
        "server":\(JSONText.quoted(server)),"platform":"\(platform.rawValue)","message_key":"\(key)","backfill":\(backfill),"events":[
        """
    }

    static func eventJSON(_ event: IngestEvent) -> String {
        #"{"idempotency_key":"# + JSONText.quoted(event.idempotencyKey) + #","kind":"# + JSONText.quoted(event.kind) + ",\"" + member(of: event.kind) + "\":" + event.payloadJSON + "}"
    }

    /// The member carrying an event's payload, named after what it is: `fact` for `fact.*`, `aggregate` for
    /// `aggregate.*`, `backfill` for `backfill.*` (docs/ingest.md, "Events").
    static func member(of kind: String) -> String {
        if kind.hasPrefix("aggregate.") { return "aggregate" }
        if kind.hasPrefix("backfill.") { return "backfill" }
        return "fact"
    }

}
