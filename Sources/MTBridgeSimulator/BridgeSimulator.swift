import MTSyncBridge
import MTSyncCore
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

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

/// mtbridge-sim: the reference bridge. Serves a `SimulatedDataset` over the protocol, exactly as a broker's
/// bridge must (handshake, `server.info`, `deals` or `trades` paging by the dataset's platform, errors), with
/// fault knobs for tests.
public struct BridgeSimulator: Sendable {
    public let dataset: SimulatedDataset
    public let key: BridgeKey
    public let faults: SimulatorFaults
    public let zoneRule: String
    /// Serve over TLS (nil: plain TCP).
    public let tls: ServerTLS?
    private let generationBox = FaultCounters()

    /// What an MT5 bridge serves.
    public static let capabilities: [String] = ["deals", "accounts", "symbols", "digest", "changes", "daily"]
    /// What an MT4 bridge serves: `trades` instead of `deals` (§4).
    public static let mt4Capabilities: [String] = ["trades", "accounts", "symbols", "digest", "changes", "daily"]

    /// The capabilities this simulator announces, by its dataset's platform.
    public var servedCapabilities: [String] { platform == .mt4 ? Self.mt4Capabilities : Self.capabilities }
    public var platform: Platform { dataset.configuration.platform }

    /// Counts of what was served so far.
    public var statistics: SimulatorStatistics { generationBox.statistics }

    public init(dataset: SimulatedDataset, key: BridgeKey, faults: SimulatorFaults = .none, zoneRule: String = "ny-close", tls: ServerTLS? = nil) {
        self.tls = tls
        self.dataset = dataset
        self.key = key
        self.faults = faults
        self.zoneRule = zoneRule
    }

    /// The dataset generation served now (0: original; 1: with edits, deletions and late deals).
    public var generation: Int { generationBox.generation }

    /// Moves the served history to `generation` (tests and `--mutate-after`): what a dealer's edits and late
    /// postings look like to mtsync.
    public func setGeneration(_ generation: Int) { generationBox.setGeneration(generation) }
    /// From now on, `changes` positions above 0 and below `sequence` get `changes_expired` (§4.6), as a bridge whose
    /// journal restarted or dropped old entries answers them.
    public func setChangesKeptFrom(_ sequence: Int64) { generationBox.setChangesKeptFrom(sequence) }

    /// Listens on `host:port` (port 0: any free port), calls `onListening` with the port, and serves
    /// connections until the task is cancelled.
    public func run(host: String = "127.0.0.1", port: Int = 0, onListening: @Sendable (Int) -> Void = { _ in }) async throws {
        let tlsContext = try tls?.makeContext()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext)) }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder()))
                    // The plain channel, wrapped only once a task serves it: an accepted connection that nobody
                    // serves (the server is shutting down) must not leave an unfinished NIOAsyncChannel behind,
                    // whose writer traps when it is released.
                    return channel
                }
            }
        onListening(server.channel.localAddress?.port ?? port)
        let counters = FaultCounters()
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask {
                        // One misbehaving connection must never stop the server.
                        try? await serve(connection, counters: counters)
                    }
                }
            }
        }
    }

    private func serve(_ channel: any Channel, counters: FaultCounters) async throws {
        let connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            try Task.checkCancellation()
            // Nothing arrives before `hello` is sent (the client speaks second), so no line is lost meanwhile.
            connection = try await channel.eventLoop.submit { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }.get()
        } catch {
            try? await channel.close()
            throw error
        }
        generationBox.count { $0.connections += 1 }
        try await connection.executeThenClose { inbound, outbound in
            var writer = LineWriter(outbound: outbound)
            var lines = inbound.makeAsyncIterator()
            var generator = SystemRandomNumberGenerator()
            let nonce = BridgeKey.makeNonce(using: &generator)
            let hello: JSONValue = ["type": "hello", "protocol": "mtbridge", "versions": [.integer(1)], "bridge": "mtbridge-sim/1", "nonce": .string(nonce), "time_ms": .integer(BridgeConnection.utcNowMilliseconds())]
            switch faults.misbehaviour {
            case .silentHandshake?:
                try await Task.sleep(for: .seconds(3_600))
                return
            case .sshBanner?:
                writer.raw(Array("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3".utf8))
                try await writer.flush()
                try await Task.sleep(for: .seconds(3_600))
                return
            case .trickleHandshake?:
                try await writer.trickle(hello.serialized() + [0x0A], every: .seconds(1))
                return
            default:
                try await writer.send(hello)
                try await writer.flush()
            }

            // Handshake (§2).
            guard let authLine = try await lines.next() else { return }
            guard case .message(let auth)? = try? BridgeLine.decode(authLine.readableBytesView), auth["type"] == "auth" else {
                try await writer.error(id: nil, code: "auth_required", retryable: false, message: "authenticate first")
                return
            }
            let clientNonce = auth["client_nonce"]?.text ?? ""
            let time = auth["time_ms"]?.text.flatMap { Int64($0) } ?? 0
            guard auth["key_id"]?.text == key.id, abs(time - BridgeConnection.utcNowMilliseconds()) <= 300_000,
                key.isValidAuth(mac: auth["mac"]?.text ?? "", nonce: nonce, clientNonce: clientNonce, timeMilliseconds: time)
            else {
                try await writer.error(id: nil, code: "auth_failed", retryable: false, message: "authentication failed")
                return
            }
            try await writer.send(["type": "welcome", "version": .integer(1), "server_id": .string(dataset.configuration.serverID), "platform": .string(platform.rawValue),
                                   "capabilities": .array(servedCapabilities.map { .string($0) }), "mac": .string(key.welcomeMAC(nonce: nonce, clientNonce: clientNonce))])
            try await writer.flush()

            var recordsSent = 0
            while let line = try await lines.next() {
                guard case .message(let request)? = try? BridgeLine.decode(line.readableBytesView), let type = request["type"]?.text else {
                    try await writer.error(id: nil, code: "bad_request", retryable: false, message: "not a valid message")
                    continue
                }
                let id = request["id"]?.text ?? ""
                if type == "ping" {
                    try await writer.send(["type": "pong", "id": .string(id)])
                    try await writer.flush()
                    continue
                }
                guard type == "request" else {
                    try await writer.error(id: id, code: "bad_request", retryable: false, message: "expected a request")
                    continue
                }
                generationBox.count { $0.requests += 1 }
                if let delay = faults.delayPerRequest { try await Task.sleep(for: delay) }
                if counters.takeUnavailable(limit: faults.unavailableRequests) {
                    try await writer.error(id: id, code: "mt_unavailable", retryable: true, message: "manager API: no connection (simulated)")
                    continue
                }
                if faults.misbehaviour == .secretError, request["method"]?.text == "deals" {
                    try await writer.error(id: id, code: "mt_unavailable", retryable: true, message: "manager login failed: password=hunter2 key=\(faults.leakedSecret)")
                    continue
                }
                if let interval = faults.endlessProgress ?? (faults.misbehaviour == .endlessProgress ? .seconds(1) : nil), request["method"]?.text != "server.info" {
                    while true {
                        try await writer.send(["type": "progress", "id": .string(id)])
                        try await writer.flush()
                        try await Task.sleep(for: interval)
                    }
                }
                switch request["method"]?.text {
                case "server.info":
                    // The server clock is UTC shifted by the zone rule, read at the same instant (§4.1).
                    let utcNow = BridgeConnection.utcNowMilliseconds()
                    let zone = ServerTimeZone(zoneRule)
                    let serverNow = zone?.serverMilliseconds(fromUTCMilliseconds: utcNow) ?? utcNow
                    let offsetMinutes = (serverNow - utcNow) / 60_000
                    // Daylight saving is on when the offset is above the lower of January's and July's.
                    let year = utcNow - utcNow % (365 * 86_400_000)
                    let standardMinutes = [year + 15 * 86_400_000, year + 196 * 86_400_000].map { instant in
                        ((zone?.serverMilliseconds(fromUTCMilliseconds: instant) ?? instant) - instant) / 60_000
                    }.min() ?? offsetMinutes
                    try await writer.send(["type": "server_info", "id": .string(id), "data": [
                        "server_id": .string(dataset.configuration.serverID), "platform": .string(platform.rawValue), "bridge": "mtbridge-sim/1",
                        "mt_build": .integer(platform == .mt4 ? 1420 : 4755),
                        "time_zone": ["rule": .string(zoneRule), "utc_offset_minutes": .integer(Int(offsetMinutes)), "dst": .bool(offsetMinutes > standardMinutes)],
                        "server_time_ms": .integer(faults.misbehaviour == .maximalServerTime ? .max : faults.serverTimeMilliseconds ?? serverNow), "utc_time_ms": .integer(utcNow),
                        "capabilities": .array(servedCapabilities.map { .string($0) }),
                    ]])
                    try await writer.send(["type": "end", "id": .string(id), "count": .integer(1), "more": false, "next": .null])
                    try await writer.flush()
                case "deals":
                    guard platform == .mt5 else {
                        try await writer.error(id: id, code: "unknown_method", retryable: false, message: "method deals is not served by this bridge (MT4: use trades)")
                        continue
                    }
                    let params = request["params"] ?? [:]
                    guard let from = params["from_ms"]?.text.flatMap({ Int64($0) }), let to = params["to_ms"]?.text.flatMap({ Int64($0) }), from < to else {
                        try await writer.error(id: id, code: "bad_request", retryable: false, message: "deals needs integer from_ms < to_ms")
                        continue
                    }
                    let limit = params["limit"]?.text.flatMap { Int($0) } ?? 1000
                    guard (1...10_000).contains(limit) else {
                        try await writer.error(id: id, code: "bad_request", retryable: false, message: "limit must be 1 to 10000")
                        continue
                    }
                    var after: (Int64, UInt64)?
                    if let position = params["after"], position != .null {
                        guard let time = position["time_msc"]?.text.flatMap({ Int64($0) }), let deal = position["deal"]?.text.flatMap({ UInt64($0) }) else {
                            try await writer.error(id: id, code: "bad_request", retryable: false, message: "after needs time_msc and deal")
                            continue
                        }
                        after = (time, deal)
                    }
                    let page = dataset.deals(fromMilliseconds: from, toMilliseconds: to, after: after, limit: limit + faults.pageOverrun, generation: generationBox.generation)
                    var records = page.records
                    if let misbehaviour = faults.misbehaviour {
                        guard try await misbehave(misbehaviour, before: &records, id: id, to: to, writer: &writer) else { return }
                    }
                    let complete = try await writeRecords(records, writer: &writer, recordsSent: &recordsSent, counters: counters) { writer, deal in
                        var served = deal
                        if let every = faults.unreadableProfitEvery, let ticket = deal.deal.flatMap(UInt64.init), ticket % every == 0 { served.profit = "1,5" }
                        if let altered = faults.alteredDeals, let ticket = deal.deal.flatMap(UInt64.init), ticket % altered.every == 0 {
                            for (name, value) in altered.fields { served.set(name, value) }
                        }
                        writer.record(type: "deal", id: id, data: faults.omitting(served))
                    }
                    guard complete else { return }
                    generationBox.count { $0.pages += 1 }
                    var next: JSONValue = page.records.last.map { ["time_msc": .number($0.timeMsc!), "deal": .string($0.deal!)] } ?? .null
                    var count = records.count, more = page.more
                    switch faults.misbehaviour {
                    case .futureNext?: next = ["time_msc": .integer(253_402_300_799_000), "deal": "1"]
                    case .hugeNextTicket?: next = ["time_msc": page.records.last.map { .number($0.timeMsc!) } ?? .integer(from), "deal": "18446744073709551616"]
                    case .nextBehindAfter?: next = params["after"] ?? ["time_msc": .integer(from), "deal": "0"]
                    case .moreWithoutNext?: next = .null
                    case .lyingCount?: count += 7
                    default: break
                    }
                    if faults.misbehaviour == .moreWithoutNext { more = more || !page.records.isEmpty }
                    let end: JSONValue = ["type": "end", "id": .string(id), "count": .integer(count), "more": .bool(more), "next": more || faults.misbehaviour == .futureNext ? next : .null]
                    try await writer.send(end)
                    if faults.misbehaviour == .repeatedEnd { try await writer.send(end) }
                    if faults.misbehaviour == .recordsAfterEnd, let first = page.records.first { writer.record(type: "deal", id: id, data: first) }
                    try await writer.flush()
                case "trades":
                    guard platform == .mt4 else {
                        try await writer.error(id: id, code: "unknown_method", retryable: false, message: "method trades is not served by this bridge (MT5: use deals)")
                        continue
                    }
                    let params = request["params"] ?? [:]
                    let limit = params["limit"]?.text.flatMap { Int($0) } ?? 1000
                    guard (1...10_000).contains(limit) else {
                        try await writer.error(id: id, code: "bad_request", retryable: false, message: "limit must be 1 to 10000")
                        continue
                    }
                    let position = params["after"].flatMap { $0 == .null ? nil : $0 }
                    let page: (records: [SimulatedTrade], more: Bool)
                    let next: (SimulatedTrade) -> JSONValue
                    switch params["set"]?.text {
                    case "closed":
                        guard let from = params["from_ms"]?.text.flatMap({ Int64($0) }), let to = params["to_ms"]?.text.flatMap({ Int64($0) }), from < to else {
                            try await writer.error(id: id, code: "bad_request", retryable: false, message: "trades (closed) needs integer from_ms < to_ms")
                            continue
                        }
                        var after: (time: Int64, order: UInt64)?
                        if let position {
                            guard let time = position["time"]?.text.flatMap({ Int64($0) }), let order = position["order"]?.text.flatMap({ UInt64($0) }) else {
                                try await writer.error(id: id, code: "bad_request", retryable: false, message: "after needs time and order")
                                continue
                            }
                            after = (time, order)
                        }
                        page = dataset.closedTrades(fromMilliseconds: from, toMilliseconds: to, after: after, limit: limit, generation: generationBox.generation)
                        next = { ["time": .integer($0.closeTime), "order": .string(String($0.order))] }
                    case "open":
                        var after: UInt64?
                        if let position {
                            guard let order = position["order"]?.text.flatMap({ UInt64($0) }) else {
                                try await writer.error(id: id, code: "bad_request", retryable: false, message: "after needs order")
                                continue
                            }
                            after = order
                        }
                        page = dataset.openTrades(after: after, limit: limit)
                        next = { ["order": .string(String($0.order))] }
                    default:
                        try await writer.error(id: id, code: "bad_request", retryable: false, message: "trades needs set \"closed\" or \"open\"")
                        continue
                    }
                    let complete = try await writeRecords(page.records, writer: &writer, recordsSent: &recordsSent, counters: counters) { writer, trade in
                        writer.raw(JSONValue.object([("type", "trade"), ("id", .string(id)), ("data", LineWriter.tradeObject(faults.omitting(trade.record)))]).serialized())
                    }
                    guard complete else { return }
                    generationBox.count { $0.pages += 1 }
                    try await writer.send(["type": "end", "id": .string(id), "count": .integer(page.records.count), "more": .bool(page.more),
                                           "next": page.more ? page.records.last.map(next) ?? .null : .null])
                    try await writer.flush()
                case "accounts":
                    let params = request["params"] ?? [:]
                    let after = params["after"]?.text.flatMap { UInt64($0) } ?? 0
                    let limit = params["limit"]?.text.flatMap { Int($0) } ?? 1000
                    let accounts = dataset.accountRecords(generation: generationBox.generation).filter { UInt64($0.login!)! > after }
                    let page = accounts.prefix(limit)
                    for account in page {
                        try await writer.send(["type": "account", "id": .string(id), "data": LineWriter.accountObject(faults.omitting(account))])
                    }
                    let more = accounts.count > page.count
                    try await writer.send(["type": "end", "id": .string(id), "count": .integer(page.count), "more": .bool(more),
                                           "next": more ? .string(page.last!.login!) : .null])
                    try await writer.flush()
                case "daily":
                    // §4.8: the records of the server days starting in [from_ms, to_ms), by (day, login), paged by `after`.
                    let params = request["params"] ?? [:]
                    guard let from = params["from_ms"]?.text.flatMap({ Int64($0) }), let to = params["to_ms"]?.text.flatMap({ Int64($0) }), from < to else {
                        try await writer.error(id: id, code: "bad_request", retryable: false, message: "daily needs from_ms < to_ms")
                        continue
                    }
                    let limit = params["limit"]?.text.flatMap { Int($0) } ?? 1000
                    var after: (day: String, login: UInt64)?
                    if let position = params["after"], position != .null {
                        guard let day = position["day"]?.text, let login = position["login"]?.text.flatMap({ UInt64($0) }) else {
                            try await writer.error(id: id, code: "bad_request", retryable: false, message: "after needs day and login")
                            continue
                        }
                        after = (day, login)
                    }
                    let page = dataset.dailyRecords(fromMilliseconds: from, toMilliseconds: to, after: after, limit: limit, generation: generationBox.generation)
                    for record in page.records {
                        try await writer.send(["type": "daily", "id": .string(id), "data": LineWriter.dailyObject(faults.omitting(record))])
                    }
                    try await writer.send(["type": "end", "id": .string(id), "count": .integer(page.records.count), "more": .bool(page.more),
                                           "next": page.more ? ["day": .string(page.records.last!.day!), "login": .string(page.records.last!.login!)] : .null])
                    try await writer.flush()
                case "symbols":
                    // Ascending by name, paged by `after` like every paged method (§4.5).
                    let params = request["params"] ?? [:]
                    let after = params["after"]?.text ?? ""
                    let limit = params["limit"]?.text.flatMap { Int($0) } ?? 1000
                    let symbols = (platform == .mt4 ? SimulatedDataset.mt4Symbols : SimulatedDataset.symbols).sorted().filter { $0 > after }
                    let page = symbols.prefix(limit)
                    for symbol in page {
                        try await writer.send(["type": "symbol", "id": .string(id), "data": faults.omitting(LineWriter.symbolObject(symbol, platform: platform))])
                    }
                    let more = symbols.count > page.count
                    try await writer.send(["type": "end", "id": .string(id), "count": .integer(page.count), "more": .bool(more),
                                           "next": more ? .string(page.last!) : .null])
                    try await writer.flush()
                case "changes" where platform == .mt4:
                    let params = request["params"] ?? [:]
                    let since = params["since"]?.text.flatMap { Int64($0) } ?? 0
                    if since > 0, since < generationBox.changesKeptFrom {
                        try await writer.error(id: id, code: "changes_expired", retryable: false, message: "changes before seq \(generationBox.changesKeptFrom) are no longer kept; reconcile instead")
                        continue
                    }
                    let limit = params["limit"]?.text.flatMap { Int($0) } ?? 1000
                    let changes = generationBox.generation > 0 ? dataset.tradeChanges().filter { $0.seq > since && $0.seq >= generationBox.changesKeptFrom } : []
                    let page = changes.prefix(limit)
                    for change in page {
                        // A deletion names the record by `order` only (§4.6).
                        let record = change.op == "delete" ? JSONValue.object([("order", .string(String(change.trade.order)))]) : LineWriter.tradeObject(change.trade.record)
                        writer.raw(JSONValue.object([("type", "change"), ("id", .string(id)), ("data", .object([
                            ("seq", .integer(change.seq)), ("op", .string(change.op)), ("record", record),
                        ]))]).serialized())
                    }
                    let more = changes.count > page.count
                    try await writer.send(["type": "end", "id": .string(id), "count": .integer(page.count), "more": .bool(more),
                                           "next": more ? page.last.map { ["seq": .integer($0.seq)] } ?? .null : .null])
                    try await writer.flush()
                case "changes":
                    let params = request["params"] ?? [:]
                    let since = params["since"]?.text.flatMap { Int64($0) } ?? 0
                    if since > 0, since < generationBox.changesKeptFrom {
                        try await writer.error(id: id, code: "changes_expired", retryable: false, message: "changes before seq \(generationBox.changesKeptFrom) are no longer kept; reconcile instead")
                        continue
                    }
                    let limit = params["limit"]?.text.flatMap { Int($0) } ?? 1000
                    let changes = generationBox.generation > 0 ? dataset.changes().filter { $0.seq > since && $0.seq >= generationBox.changesKeptFrom } : []
                    let page = changes.prefix(limit)
                    for change in page {
                        writer.raw(JSONValue.object([("type", "change"), ("id", .string(id)), ("data", .object([
                            ("seq", .integer(change.seq)), ("op", .string(change.op)), ("record", LineWriter.dealObject(change.record)),
                        ]))]).serialized())
                    }
                    let more = changes.count > page.count
                    try await writer.send(["type": "end", "id": .string(id), "count": .integer(page.count), "more": .bool(more),
                                           "next": more ? page.last.map { ["seq": .integer($0.seq)] } ?? .null : .null])
                    try await writer.flush()
                case "digest":
                    let params = request["params"] ?? [:]
                    guard let from = params["from_ms"]?.text.flatMap({ Int64($0) }), let to = params["to_ms"]?.text.flatMap({ Int64($0) }),
                        let bucket = params["bucket_ms"]?.text.flatMap({ Int64($0) }), bucket == 3_600_000 || bucket == 86_400_000,
                        from < to, from % bucket == 0, to % bucket == 0
                    else {
                        try await writer.error(id: id, code: "bad_request", retryable: false, message: "digest needs from_ms < to_ms, multiples of bucket_ms (3600000 or 86400000)")
                        continue
                    }
                    guard (to - from) / bucket <= 744 else {
                        try await writer.error(id: id, code: "range_too_large", retryable: false, message: "at most 744 buckets per request")
                        continue
                    }
                    // `stream` names the platform's history (§4.7); absent means this bridge's own.
                    let stream = params["stream"]?.text ?? (platform == .mt4 ? "trades" : "deals")
                    guard stream == (platform == .mt4 ? "trades" : "deals") else {
                        try await writer.error(id: id, code: "bad_request", retryable: false, message: "digest stream \(stream) is not served by this \(platform.rawValue) bridge")
                        continue
                    }
                    let buckets = platform == .mt4
                        ? dataset.tradeDigest(fromMilliseconds: from, toMilliseconds: to, bucketMilliseconds: bucket, generation: generationBox.generation)
                        : dataset.digest(fromMilliseconds: from, toMilliseconds: to, bucketMilliseconds: bucket, generation: generationBox.generation)
                    let shift: Int64 = faults.misbehaviour == .wrongDigest ? 1_800_000 : 0
                    for bucket in buckets {
                        try await writer.send(["type": "bucket", "id": .string(id), "data": [
                            "from_ms": .integer(bucket.from + shift), "to_ms": .integer(bucket.to + shift), "count": .integer(bucket.count),
                            "volume": .string(String(bucket.volume)), "checksum": .string(bucket.checksum.description),
                        ]])
                    }
                    try await writer.send(["type": "end", "id": .string(id), "count": .integer(buckets.count), "more": false, "next": .null])
                    try await writer.flush()
                default:
                    try await writer.error(id: id, code: "unknown_method", retryable: false, message: "method \(request["method"]?.text ?? "?") is not served by this bridge")
                }
            }
        }
    }
}

extension BridgeSimulator {
    /// Writes one page's records with the record-level faults (drop, malformed line, oversize line). False when
    /// the connection must be dropped now.
    /// The page-level misbehaviours, before a deals page's records are written: reorders or adds to `records`, or
    /// writes what a broken bridge would instead; false when the connection is to end here.
    private func misbehave(_ misbehaviour: Misbehaviour, before records: inout [MT5DealRecord], id: String, to: Int64, writer: inout LineWriter) async throws -> Bool {
        // A bad record takes the place of the page's last one (which the next page then starts with), so the page
        // stays within its limit: the misbehaviour is the record, not an overrun.
        func extraDeal(_ change: (inout MT5DealRecord) -> Void) -> [UInt8] {
            var deal = records.first ?? MT5DealRecord(fields: ["Login": "1001", "Action": "0", "Entry": "0", "Symbol": "EURUSD", "Volume": "10000", "VolumeExt": "100000000"])
            if !records.isEmpty { records.removeLast() }
            deal.deal = "999000001"
            change(&deal)
            return JSONValue.object([("type", "deal"), ("id", .string(id)), ("data", LineWriter.dealObject(deal))]).serialized()
        }
        switch misbehaviour {
        case .wrongOrder: records.reverse()
        case .duplicateInPage: if let first = records.first, records.count > 1 { records[records.count - 1] = first }
        case .outsideRange: writer.raw(extraDeal { $0.timeMsc = String(to + 86_400_000); $0.time = String((to + 86_400_000) / 1000) })
        case .maximalTimeMsc: writer.raw(extraDeal { $0.timeMsc = String(Int64.max) })
        case .maximalTimeOnly: writer.raw(extraDeal { $0.timeMsc = nil; $0.time = String(Int64.max) })
        case .invalidUTF8:
            if !records.isEmpty { records.removeLast() }
            writer.raw(Array(#"{"type":"deal","id":""#.utf8) + Array(id.utf8) + Array(#"","data":{"Deal":"999000002","Comment":""#.utf8) + [0xC3, 0x28, 0xFF] + Array(#""}}"#.utf8))
        case .oversizeLine: writer.raw([UInt8](repeating: UInt8(ascii: "x"), count: LineFrameDecoder.protocolMaximum + 10))
        case .trickleResponse:
            try await writer.trickle(Array(#"{"type":"deal","id":""#.utf8) + Array(id.utf8) + Array(#"","data":{}}"#.utf8) + [0x0A], every: .seconds(1))
            return false
        case .stallMidPage:
            for deal in records.prefix(records.count / 2) { writer.record(type: "deal", id: id, data: deal) }
            try await writer.flush()
            try await Task.sleep(for: .seconds(3_600))
            return false
        default: break
        }
        return true
    }

    fileprivate func writeRecords<Record>(
        _ records: [Record], writer: inout LineWriter, recordsSent: inout Int, counters: FaultCounters, _ write: (inout LineWriter, Record) -> Void
    ) async throws -> Bool {
        for record in records {
            if recordsSent == faults.dropConnectionAfterRecords, generationBox.takeDrop(limit: faults.dropConnectionTimes) {
                try await writer.flush()
                return false
            }
            if recordsSent == faults.malformedLineAfterRecords, counters.takeOnce(\.malformedSent) { writer.raw(Array("this is not json".utf8)) }
            if recordsSent == faults.oversizeLineAfterRecords, counters.takeOnce(\.oversizeSent) {
                writer.raw([UInt8](repeating: UInt8(ascii: "x"), count: LineFrameDecoder.protocolMaximum + 10))
            }
            write(&writer, record)
            recordsSent += 1
            generationBox.count { $0.records += 1 }
            if writer.pendingBytes > 256 * 1024 { try await writer.flush() }
        }
        return true
    }
}

/// Faults that fire once per simulator (not per connection), so a reconnecting client gets past them.
final class FaultCounters: Sendable {
    struct State {
        var generation = 0
        /// Positions below this get `changes_expired` (0: every position is answered).
        var changesKeptFrom: Int64 = 0
        var unavailableAnswered = 0
        var malformedSent = false
        var oversizeSent = false
        var statistics = SimulatorStatistics()
    }

    private let state = Mutex(State())

    var generation: Int { state.withLock { $0.generation } }

    func setGeneration(_ generation: Int) { state.withLock { $0.generation = generation } }

    var changesKeptFrom: Int64 { state.withLock { $0.changesKeptFrom } }

    func setChangesKeptFrom(_ sequence: Int64) { state.withLock { $0.changesKeptFrom = sequence } }

    var statistics: SimulatorStatistics { state.withLock { $0.statistics } }

    func count(_ update: (inout SimulatorStatistics) -> Void) { state.withLock { update(&$0.statistics) } }

    /// Whether the drop fault may fire once more (nil limit: always), counting it when it does.
    func takeDrop(limit: Int?) -> Bool {
        state.withLock { state in
            if let limit, state.statistics.droppedConnections >= limit { return false }
            state.statistics.droppedConnections += 1
            return true
        }
    }

    func takeUnavailable(limit: Int) -> Bool {
        state.withLock { state in
            guard state.unavailableAnswered < limit else { return false }
            state.unavailableAnswered += 1
            return true
        }
    }

    func takeOnce(_ flag: WritableKeyPath<State, Bool>) -> Bool {
        state.withLock { state in
            guard !state[keyPath: flag] else { return false }
            state[keyPath: flag] = true
            return true
        }
    }
}

/// Buffers outgoing lines and writes them in large chunks.
struct LineWriter {
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var buffer = ByteBuffer()

    init(outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.outbound = outbound
        buffer.reserveCapacity(300 * 1024)
    }

    var pendingBytes: Int { buffer.readableBytes }

    mutating func raw(_ line: [UInt8]) {
        buffer.writeBytes(line)
        buffer.writeInteger(UInt8(ascii: "\n"))
    }

    mutating func send(_ message: JSONValue) async throws {
        raw(message.serialized())
    }

    /// Writes `bytes` one at a time, `every` apart (what buffered earlier goes first): a bridge that is alive but
    /// never finishes a line.
    mutating func trickle(_ bytes: [UInt8], every interval: Duration) async throws {
        try await flush()
        for byte in bytes {
            buffer.writeInteger(byte)
            try await flush()
            try await Task.sleep(for: interval)
        }
    }

    mutating func record(type: String, id: String, data deal: MT5DealRecord) {
        raw(JSONValue.object([("type", .string(type)), ("id", .string(id)), ("data", Self.dealObject(deal))]).serialized())
    }

    static func dealObject(_ deal: MT5DealRecord) -> JSONValue {
        var fields: [(String, JSONValue)] = []
        let values: [String?] = [deal.deal, deal.login, deal.order, deal.positionID, deal.action, deal.entry, deal.reason, deal.time, deal.timeMsc,
                                 deal.symbol, deal.volume, deal.volumeExt, nil, deal.price, deal.profit, deal.storage, deal.commission, deal.fee,
                                 deal.contractSize, deal.digits, deal.digitsCurrency, nil, nil, deal.comment, deal.externalID, nil, deal.volumeClosedExt]
        for (name, value) in zip(MT5DealRecord.fieldNames, values) {
            guard let value else { continue }
            // Tickets, logins and money go as strings (as the MT5 Web API sends them); small enums as numbers.
            let isSmallNumber = ["Action", "Entry", "Reason", "Digits", "DigitsCurrency"].contains(name)
            fields.append((name, isSmallNumber ? .number(value) : .string(value)))
        }
        return .object(fields)
    }

    /// An MT4 `TradeRecord` as an MT4 bridge naturally sends it: numbers as JSON numbers (all digits), symbol and
    /// comment as strings, and `timestamp`, the record's last change (§4.3).
    /// An `account` record (§4.4): numbers as JSON numbers, the rest as strings, absent fields left out.
    static func accountObject(_ account: RawAccountRecord) -> JSONValue {
        let numbers: Set<String> = ["leverage", "updated_ms"]
        return .object(RawAccountRecord.fieldNames.enumerated().compactMap { index, name in
            account.value(fieldAt: index).map { value in (name, numbers.contains(name) ? (Int64(value).map(JSONValue.integer) ?? .string(value)) : .string(value)) }
        })
    }

    /// A `daily` record (§4.8): `time_ms` a JSON number, the rest strings.
    static func dailyObject(_ record: RawDailyRecord) -> JSONValue {
        .object(RawDailyRecord.fieldNames.enumerated().compactMap { index, name in
            record.value(fieldAt: index).map { value in (name, name == "time_ms" ? (Int64(value).map(JSONValue.integer) ?? .string(value)) : .string(value)) }
        })
    }

    /// A `symbols` record (§4.5). Currencies come from an FX-style name (EURUSD.pro → EUR, USD); indices,
    /// stocks and crypto CFDs quote in USD.
    static func symbolObject(_ symbol: String, platform: Platform) -> JSONValue {
        let letters = symbol.uppercased().filter { $0.isLetter }
        let currencies: Set<Substring> = ["EUR", "USD", "GBP", "JPY", "CHF", "AUD", "CAD", "NZD", "XAU", "XAG", "BTC"]
        let base = letters.prefix(3), quote = letters.dropFirst(3).prefix(3)
        let isPair = currencies.contains(base) && currencies.contains(quote)
        // US30 at 10 a lot, as some brokers define it: the server's definition wins over the rules table's 1.
        let contractSize = symbol.hasPrefix("XAU") ? "100" : symbol.contains("US30") ? "10" : (symbol.contains("AAPL") || symbol.contains("BTC") ? "1" : "100000")
        return [
            "symbol": .string(symbol), "path": .string("Sim\\\(symbol)"),
            "base_currency": .string(isPair ? String(base) : "USD"), "profit_currency": .string(isPair ? String(quote) : "USD"),
            "margin_currency": .string(isPair ? String(base) : "USD"),
            "contract_size": .string(platform == .mt4 ? contractSize : (symbol.hasPrefix("XAU") ? "100" : "100000")),
            "digits": .integer(platform == .mt4 ? SimulatedDataset.mt4Digits(symbol) : 5), "calc_mode": .integer(0),
        ]
    }

    static func tradeObject(_ trade: MT4TradeRecord) -> JSONValue {
        var fields: [(String, JSONValue)] = []
        for (index, name) in MT4TradeRecord.fieldNames.enumerated() {
            guard let value = trade.value(fieldAt: index) else { continue }
            fields.append((name, name == "symbol" || name == "comment" ? .string(value) : .number(value)))
        }
        return .object(fields)
    }

    mutating func error(id: String?, code: String, retryable: Bool, message: String) async throws {
        try await send(["type": "error", "id": id.map { .string($0) } ?? .null, "code": .string(code), "retryable": .bool(retryable), "message": .string(message)])
        try await flush()
    }

    mutating func flush() async throws {
        guard buffer.readableBytes > 0 else { return }
        try await outbound.write(buffer)
        buffer.clear()
    }
}
