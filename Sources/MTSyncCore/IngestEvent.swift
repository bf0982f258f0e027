/// One outbox event as the relay hands it on: a fact created, updated or deleted (or, later, an aggregate or a
/// backfill marker), with the idempotency key the store gave it and its payload as stored (JSON text, spliced
/// into messages as is — never re-encoded, so its exact decimals and 64-bit tickets travel untouched).
public struct IngestEvent: Sendable, Hashable {
    public var eventID: Int64
    public var serverID: String
    public var kind: String
    public var idempotencyKey: String
    /// The trader's login, for FIFO message groups; nil for events not about one trader.
    public var login: Int64?
    public var payloadJSON: String
    /// Written by a backfill job (its facts and markers): such events travel in messages of their own, flagged
    /// `"backfill": true`.
    public var backfill: Bool

    public init(eventID: Int64, serverID: String, kind: String, idempotencyKey: String, login: Int64?, payloadJSON: String, backfill: Bool = false) {
        self.backfill = backfill
        self.eventID = eventID
        self.serverID = serverID
        self.kind = kind
        self.idempotencyKey = idempotencyKey
        self.login = login
        self.payloadJSON = payloadJSON
    }
}
