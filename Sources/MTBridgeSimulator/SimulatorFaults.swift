import MTSyncBridge
import MTSyncCore

/// Faults the simulator can inject, for tests of mtsync's error handling (bridge-protocol/README.md §5).
public struct SimulatorFaults: Sendable, Hashable {
    /// Close the connection abruptly after sending this many records on it.
    public var dropConnectionAfterRecords: Int?
    /// Send one line that is not JSON after this many records.
    public var malformedLineAfterRecords: Int?
    /// Send one line longer than the protocol allows after this many records.
    public var oversizeLineAfterRecords: Int?
    /// Wait this long before answering each request (a slow Manager API).
    public var delayPerRequest: Duration?
    /// Answer with `error` `mt_unavailable` (retryable) to this many requests first.
    public var unavailableRequests: Int
    /// Drop at most this many connections with `dropConnectionAfterRecords` (nil: every connection that gets that
    /// far). A client that opens a connection per page, with pages larger than the drop count, gets past a
    /// limited number of drops only.
    public var dropConnectionTimes: Int?
    /// Answer each `deals` page with this many records more than its `limit` (a bridge that ignores the limit).
    public var pageOverrun: Int
    /// Answer requests (other than `server.info`) with nothing but a `progress` line at this interval, never an `end`
    /// (a bridge stuck "working").
    public var endlessProgress: Duration?
    /// Serve the MT5 deals whose ticket is a multiple of this with `Profit` "1,5" (a decimal comma: a record mtsync
    /// must quarantine, the same one every time it is read).
    public var unreadableProfitEvery: UInt64?
    /// Leave these fields out of every deal, trade, account and symbol record (a bridge that does not send
    /// mandatory fields such as `ContractSize` or `DigitsCurrency`).
    public var omittedFields: Set<String> = []
    /// One of the hostile-bridge suite's misbehaviours (nil: none).
    public var misbehaviour: Misbehaviour?
    /// With `.secretError`: the secret the error message carries (the suite passes the bridge key).
    public var leakedSecret = ""
    /// Serve the MT5 deals whose ticket is a multiple of `every` with these fields replaced (nil: left out), e.g.
    /// `TimeMsc` removed and `Time` at Int64.max: the extreme values a bridge may send (issue 20).
    public var alteredDeals: AlteredDeals?
    /// Answer `server.info` with this `server_time_ms` instead of the zone's clock (a bridge whose clock is wrong).
    public var serverTimeMilliseconds: Int64?

    public init(
        dropConnectionAfterRecords: Int? = nil, malformedLineAfterRecords: Int? = nil, oversizeLineAfterRecords: Int? = nil, delayPerRequest: Duration? = nil,
        unavailableRequests: Int = 0, dropConnectionTimes: Int? = nil, pageOverrun: Int = 0, endlessProgress: Duration? = nil,
        unreadableProfitEvery: UInt64? = nil
    ) {
        self.unreadableProfitEvery = unreadableProfitEvery
        self.dropConnectionTimes = dropConnectionTimes
        self.pageOverrun = pageOverrun
        self.endlessProgress = endlessProgress
        self.dropConnectionAfterRecords = dropConnectionAfterRecords
        self.malformedLineAfterRecords = malformedLineAfterRecords
        self.oversizeLineAfterRecords = oversizeLineAfterRecords
        self.delayPerRequest = delayPerRequest
        self.unavailableRequests = unavailableRequests
    }

    public static let none = SimulatorFaults()

    /// Deals served with some fields replaced: those whose ticket is a multiple of `every`.
    public struct AlteredDeals: Sendable, Hashable {
        public var every: UInt64
        /// Field name → the value served (nil: the field is left out).
        public var fields: [String: String?]

        public init(every: UInt64, fields: [String: String?]) {
            self.every = every
            self.fields = fields
        }
    }

    /// `record` without the `omittedFields`.
    func omitting<Record: RawFieldRecord>(_ record: Record) -> Record {
        guard !omittedFields.isEmpty else { return record }
        var record = record
        for field in omittedFields { if let index = Record.fieldIndex[field] { record.set(fieldAt: index, nil) } }
        return record
    }

    /// A record object without the `omittedFields`.
    func omitting(_ object: JSONValue) -> JSONValue {
        guard !omittedFields.isEmpty, case .object(let members) = object else { return object }
        return .object(members.filter { !omittedFields.contains($0.0) })
    }
}

/// What a simulator has served so far, for tests (back-pressure, retries, faults that fired).
public struct SimulatorStatistics: Sendable, Hashable {
    /// Connections accepted.
    public var connections = 0
    /// Requests received after the handshake (any method, answered or not).
    public var requests = 0
    /// `deals` and `trades` pages completed (their `end` written).
    public var pages = 0
    /// `deal` and `trade` records written.
    public var records = 0
    /// Connections closed by the `dropConnectionAfterRecords` fault.
    public var droppedConnections = 0
}
