import MTSyncCore

extension RawFieldRecord {
    /// The record from a JSON object's members by their protocol names: numbers and strings as their text; other
    /// members (and names the record does not know) are ignored, so a bad value shows as an absent field.
    public init(object: JSONValue) {
        self.init()
        guard case .object(let members) = object else { return }
        for (name, value) in members {
            if let index = Self.fieldIndex[name], let text = value.text { set(fieldAt: index, text) }
        }
    }
}

/// One bucket of the `digest` method (§4.7).
public struct DigestBucket: Sendable, Hashable {
    public let fromMilliseconds: Int64
    public let toMilliseconds: Int64
    public let count: Int
    /// Sum of `VolumeExt` (MT5) or `volume` (MT4), exact.
    public let volume: String
    /// 16 hex digits.
    public let checksum: String

    public init(_ data: JSONValue) throws(BridgeProtocolError) {
        guard let from = data["from_ms"]?.text.flatMap({ Int64($0) }), let to = data["to_ms"]?.text.flatMap({ Int64($0) }),
            let count = data["count"]?.text.flatMap({ Int($0) }), let volume = data["volume"]?.text, let checksum = data["checksum"]?.text,
            checksum.utf8.count == 16
        else {
            throw BridgeProtocolError(code: .malformed, retryable: true, message: "a bucket record needs from_ms, to_ms, count, volume and a 16-digit checksum")
        }
        fromMilliseconds = from
        toMilliseconds = to
        self.count = count
        self.volume = volume
        self.checksum = checksum
    }
}

/// One entry of the `changes` method (§4.6): a deal (MT5) or trade record (MT4) edited or deleted after the fact.
public struct BridgeChange: Sendable, Hashable {
    public enum Operation: String, Sendable, Hashable {
        case update, delete
    }

    /// The changed record: complete for an update, only its identity (`Deal` or `order`) for a delete.
    public enum Record: Sendable, Hashable {
        case deal(MT5DealRecord)
        case trade(MT4TradeRecord)
    }

    public let sequence: Int64
    public let operation: Operation
    public let record: Record

    /// The MT5 deal, when the change is one.
    public var deal: MT5DealRecord? { if case .deal(let deal) = record { deal } else { nil } }
    /// The MT4 trade record, when the change is one.
    public var trade: MT4TradeRecord? { if case .trade(let trade) = record { trade } else { nil } }

    public init(sequence: Int64, operation: Operation, record: Record) {
        self.sequence = sequence
        self.operation = operation
        self.record = record
    }

    public init(_ data: JSONValue) throws(BridgeProtocolError) {
        guard let sequence = data["seq"]?.text.flatMap({ Int64($0) }), let operation = data["op"]?.text.flatMap(Operation.init(rawValue:)),
            case .object(let members)? = data["record"]
        else {
            throw BridgeProtocolError(code: .malformed, retryable: true, message: "a change needs seq, op (update or delete) and a record object")
        }
        // MT5 records are keyed by `Deal`, MT4 records by `order` (Manager API names).
        if members.contains(where: { $0.0 == "Deal" }) {
            record = .deal(MT5DealRecord(object: .object(members)))
        } else if members.contains(where: { $0.0 == "order" }) {
            record = .trade(MT4TradeRecord(object: .object(members)))
        } else {
            throw BridgeProtocolError(code: .malformed, retryable: true, message: "a change's record needs its identity: Deal (MT5) or order (MT4)")
        }
        self.sequence = sequence
        self.operation = operation
    }
}
