import MTSyncBridge
import MTSyncCore
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

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
    /// Live: the history is served only as far as the server's clock has reached, so deals appear as their time
    /// passes, as on a trading server (`scripts/bench-latency` times them from there to the ingest). Digests still
    /// count whole buckets: run a live server without the trailing reconcile.
    public let live: Bool
    let generationBox = FaultCounters()

    /// What an MT5 bridge serves.
    public static let capabilities: [String] = ["deals", "accounts", "symbols", "digest", "changes", "daily"]
    /// What an MT4 bridge serves: `trades` instead of `deals` (§4).
    public static let mt4Capabilities: [String] = ["trades", "accounts", "symbols", "digest", "changes", "daily"]

    /// The capabilities this simulator announces, by its dataset's platform.
    public var servedCapabilities: [String] { platform == .mt4 ? Self.mt4Capabilities : Self.capabilities }
    public var platform: Platform { dataset.configuration.platform }

    /// Counts of what was served so far.
    public var statistics: SimulatorStatistics { generationBox.statistics }

    public init(
        dataset: SimulatedDataset, key: BridgeKey, faults: SimulatorFaults = .none, zoneRule: String = "ny-close", tls: ServerTLS? = nil, live: Bool = false
    ) {
        self.tls = tls
        self.live = live
        self.dataset = dataset
        self.key = key
        self.faults = faults
        self.zoneRule = zoneRule
    }

    /// The server's clock: UTC now shifted by the zone rule, and that UTC instant (§4.1).
    func serverClock() -> (utc: Int64, server: Int64) {
        let utcNow = BridgeConnection.utcNowMilliseconds()
        return (utcNow, ServerTimeZone(zoneRule)?.serverMilliseconds(fromUTCMilliseconds: utcNow) ?? utcNow)
    }

    /// The end of a requested history range as served: `to`, or in live mode no later than the server's clock.
    func servedEnd(_ to: Int64) -> Int64 {
        live ? Swift.min(to, serverClock().server + 1) : to
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
            guard try await greet(lines: &lines, writer: &writer) else { return }
            var recordsSent = 0
            while let line = try await lines.next() {
                guard try await answer(line, writer: &writer, recordsSent: &recordsSent, counters: counters) else { return }
            }
        }
    }

    /// The handshake (§2), with the handshake misbehaviours: `hello`, the client's `auth` checked, `welcome`. False
    /// when the connection is to end here.
    private func greet(lines: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, writer: inout LineWriter) async throws -> Bool {
        var generator = SystemRandomNumberGenerator()
        let nonce = BridgeKey.makeNonce(using: &generator)
        let hello: JSONValue = ["type": "hello", "protocol": "mtbridge", "versions": [.integer(1)], "bridge": "mtbridge-sim/1", "nonce": .string(nonce), "time_ms": .integer(BridgeConnection.utcNowMilliseconds())]
        switch faults.misbehaviour {
        case .silentHandshake?:
            try await Task.sleep(for: .seconds(3_600))
            return false
        case .sshBanner?:
            writer.raw(Array("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3".utf8))
            try await writer.flush()
            try await Task.sleep(for: .seconds(3_600))
            return false
        case .trickleHandshake?:
            try await writer.trickle(hello.serialized() + [0x0A], every: .seconds(1))
            return false
        default:
            try await writer.send(hello)
            try await writer.flush()
        }
        guard let authLine = try await lines.next() else { return false }
        guard case .message(let auth)? = try? BridgeLine.decode(authLine.readableBytesView), auth["type"] == "auth" else {
            try await writer.error(id: nil, code: "auth_required", retryable: false, message: "authenticate first")
            return false
        }
        let clientNonce = auth["client_nonce"]?.text ?? ""
        let time = auth["time_ms"]?.text.flatMap { Int64($0) } ?? 0
        guard auth["key_id"]?.text == key.id, abs(time - BridgeConnection.utcNowMilliseconds()) <= 300_000,
            key.isValidAuth(mac: auth["mac"]?.text ?? "", nonce: nonce, clientNonce: clientNonce, timeMilliseconds: time)
        else {
            try await writer.error(id: nil, code: "auth_failed", retryable: false, message: "authentication failed")
            return false
        }
        try await writer.send(["type": "welcome", "version": .integer(1), "server_id": .string(dataset.configuration.serverID), "platform": .string(platform.rawValue),
                               "capabilities": .array(servedCapabilities.map { .string($0) }), "mac": .string(key.welcomeMAC(nonce: nonce, clientNonce: clientNonce))])
        try await writer.flush()
        return true
    }

    /// Answers one line of an authenticated session, with the request-level faults; false when the connection is to
    /// end here. A request a method rejects is answered with its `error` and the session goes on.
    private func answer(_ line: ByteBuffer, writer: inout LineWriter, recordsSent: inout Int, counters: FaultCounters) async throws -> Bool {
        guard case .message(let message)? = try? BridgeLine.decode(line.readableBytesView), let type = message["type"]?.text else {
            try await writer.error(id: nil, code: "bad_request", retryable: false, message: "not a valid message")
            return true
        }
        let request = SimulatorRequest(message)
        if type == "ping" {
            try await writer.send(["type": "pong", "id": .string(request.id)])
            try await writer.flush()
            return true
        }
        guard type == "request" else {
            try await writer.error(id: request.id, code: "bad_request", retryable: false, message: "expected a request")
            return true
        }
        generationBox.count { $0.requests += 1 }
        if let delay = faults.delayPerRequest { try await Task.sleep(for: delay) }
        if counters.takeUnavailable(limit: faults.unavailableRequests) {
            try await writer.error(id: request.id, code: "mt_unavailable", retryable: true, message: "manager API: no connection (simulated)")
            return true
        }
        if faults.misbehaviour == .secretError, request.method == "deals" {
            try await writer.error(id: request.id, code: "mt_unavailable", retryable: true, message: "manager login failed: password=hunter2 key=\(faults.leakedSecret)")
            return true
        }
        if let interval = faults.endlessProgress ?? (faults.misbehaviour == .endlessProgress ? .seconds(1) : nil), request.method != "server.info" {
            while true {
                try await writer.send(["type": "progress", "id": .string(request.id)])
                try await writer.flush()
                try await Task.sleep(for: interval)
            }
        }
        do {
            switch request.method {
            case "server.info": try await serveServerInfo(request, writer: &writer)
            case "deals": return try await serveDeals(request, writer: &writer, recordsSent: &recordsSent, counters: counters)
            case "trades": return try await serveTrades(request, writer: &writer, recordsSent: &recordsSent, counters: counters)
            case "accounts": try await serveAccounts(request, writer: &writer)
            case "daily": try await serveDaily(request, writer: &writer)
            case "symbols": try await serveSymbols(request, writer: &writer)
            case "changes": try await serveChanges(request, writer: &writer)
            case "digest": try await serveDigest(request, writer: &writer)
            default: throw RequestRejection(code: "unknown_method", message: "method \(request.method ?? "?") is not served by this bridge")
            }
        } catch let rejection as RequestRejection {
            try await writer.error(id: request.id, code: rejection.code, retryable: false, message: rejection.message)
        }
        return true
    }
}

extension BridgeSimulator {
    /// Writes one page's records with the record-level faults (drop, malformed line, oversize line). False when
    /// the connection must be dropped now.
    /// The page-level misbehaviours, before a deals page's records are written: reorders or adds to `records`, or
    /// writes what a broken bridge would instead; false when the connection is to end here.
    func misbehave(_ misbehaviour: Misbehaviour, before records: inout [MT5DealRecord], id: String, to: Int64, writer: inout LineWriter) async throws -> Bool {
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

    func writeRecords<Record>(
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
