import Foundation
import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import NIOCore
import NIOPosix
import Testing

/// One golden conversation of bridge-protocol/transcripts/ (written by scripts/record-bridge-transcripts).
struct Transcript: Sendable, CustomTestStringConvertible {
    struct Entry: Sendable {
        let fromClient: Bool
        let line: JSONValue
        /// A request the spec forbids, sent on purpose.
        let invalid: Bool
    }

    /// A request and the bridge lines answering it.
    struct Exchange: Sendable {
        let request: JSONValue
        let responses: [JSONValue]
        var terminal: JSONValue { responses.last ?? .null }
    }

    let name: String
    let settings: JSONValue
    let entries: [Entry]

    var testDescription: String { name }

    /// The repository, found from this file's path (Tests/MTSyncBridgeTests/TranscriptTests.swift).
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: "bridge-protocol/transcripts")

    static func load(_ name: String) throws -> Transcript {
        let text = try String(contentsOf: folder.appending(path: "\(name).jsonl"), encoding: .utf8)
        let lines = try text.split(separator: "\n").map { try JSONValue(parsing: Array($0.utf8)) }
        let settings = try #require(lines.first?["transcript"], "\(name).jsonl: the first line must hold the settings")
        let entries = try lines.dropFirst().map { line in
            Entry(fromClient: try #require(line["from"]?.text) == "client", line: try #require(line["line"]), invalid: line["invalid"] != nil)
        }
        return Transcript(name: name, settings: settings, entries: entries)
    }

    /// The transcripts recorded from the simulator (those whose settings say how to start it).
    static let recordedNames: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return files.filter { $0.hasSuffix(".jsonl") }.map { String($0.dropLast(".jsonl".count)) }.sorted()
            .filter { (try? load($0))?.settings["simulator"] != nil }
    }()

    var simulator: JSONValue { settings["simulator"] ?? [:] }
    var key: BridgeKey { get throws { try BridgeKey(id: simulator["key_id"]?.text ?? "", hex: simulator["key_hex"]?.text ?? "") } }
    /// The key the client authenticates with: a wrong one in the auth_failed transcript.
    var clientKey: BridgeKey { get throws { try BridgeKey(id: simulator["key_id"]?.text ?? "", hex: settings["client_key_hex"]?.text ?? simulator["key_hex"]?.text ?? "") } }
    var closes: Bool { settings["closes"] == .bool(true) }
    var volatile: [[String]] {
        guard case .array(let paths)? = settings["volatile"] else { return [] }
        return paths.compactMap { $0.text?.split(separator: ".").map(String.init) }
    }

    var hello: JSONValue? { entries.first { $0.line["type"]?.text == "hello" }?.line }

    /// What followed the handshake, request by request (pings included).
    var exchanges: [Exchange] {
        var result: [Exchange] = []
        var current: (JSONValue, [JSONValue])?
        for entry in entries {
            let type = entry.line["type"]?.text
            if entry.fromClient, type == "request" || type == "ping" {
                if let current { result.append(Exchange(request: current.0, responses: current.1)) }
                current = (entry.line, [])
            } else if !entry.fromClient, current != nil {
                current!.1.append(entry.line)
            }
        }
        if let current { result.append(Exchange(request: current.0, responses: current.1)) }
        return result
    }

    /// The simulator the transcript was recorded from.
    func makeSimulator() throws -> BridgeSimulator {
        func integer(_ name: String) throws -> Int { try #require(simulator[name]?.text.flatMap { Int($0) }, "settings: simulator.\(name)") }
        let from = try #require(simulator["from"]?.text)
        let date = try #require(ISO8601DateFormatter().date(from: "\(from)T00:00:00Z"), "settings: simulator.from must be YYYY-MM-DD")
        let dataset = SimulatedDataset(.init(
            seed: UInt64(try integer("seed")), serverID: simulator["server_id"]?.text ?? "sim-mt5", firstDay: Int64(date.timeIntervalSince1970) / 86_400,
            days: try integer("days"), dealsPerDay: try integer("deals_per_day"), logins: try integer("logins")))
        let bridge = BridgeSimulator(dataset: dataset, key: try key)
        if let generation = simulator["generation"]?.text.flatMap({ Int($0) }), generation > 0 { bridge.setGeneration(generation) }
        return bridge
    }
}

/// JSON compared as parsed values: member order ignored, numbers compared by their exact text, volatile paths
/// (random nonces, clocks) removed.
func comparable(_ value: JSONValue, without paths: [[String]] = []) -> JSONValue {
    guard case .object(let members) = value else {
        if case .array(let elements) = value { return .array(elements.map { comparable($0) }) }
        return value
    }
    let kept = members.filter { name, _ in !paths.contains([name]) }.map { name, member in
        (name, comparable(member, without: paths.filter { $0.count > 1 && $0[0] == name }.map { Array($0.dropFirst()) }))
    }
    return .object(kept.sorted { $0.0 < $1.0 })
}

func text(_ value: JSONValue) -> String { String(decoding: value.serialized(), as: UTF8.self) }

func replacingID(of line: JSONValue, with id: String) -> JSONValue {
    guard case .object(let members) = line else { return line }
    return .object(members.map { $0.0 == "id" && $0.1 != .null ? ($0.0, .string(id)) : $0 })
}

/// A bare line connection (no protocol logic): what a bridge implementer's test harness would use.
func withLineConnection<Result: Sendable>(
    port: Int, _ body: (inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws -> Result
) async throws -> Result {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder()))
            return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
        }
    }
    return try await channel.executeThenClose { inbound, outbound in
        var lines = inbound.makeAsyncIterator()
        return try await body(&lines, outbound)
    }
}

func send(_ line: JSONValue, to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws {
    var buffer = ByteBuffer(bytes: line.serialized())
    buffer.writeInteger(UInt8(ascii: "\n"))
    try await outbound.write(buffer)
}

func receive(_ lines: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) async throws -> JSONValue? {
    guard let buffer = try await lines.next() else { return nil }
    return try JSONValue(parsing: buffer.readableBytesView)
}

@Suite("Golden transcripts of bridge-protocol/transcripts")
struct TranscriptTests {
    static let dayStart: Int64 = 1_735_689_600_000  // 2025-01-01, the recorded simulators' first day
    static let day: Int64 = 86_400_000
    static let hour: Int64 = 3_600_000

    // MARK: (a) test vectors

    @Test("handshake vector: BridgeKey recomputes both MACs, and the client session answers hello with the golden auth line")
    func handshakeVector() throws {
        let transcript = try Transcript.load("handshake")
        let key = try BridgeKey(id: try #require(transcript.settings["key_id"]?.text), hex: try #require(transcript.settings["key_hex"]?.text))
        let hello = try #require(transcript.hello)
        let auth = try #require(transcript.entries.first { $0.line["type"]?.text == "auth" }?.line)
        let welcome = try #require(transcript.entries.first { $0.line["type"]?.text == "welcome" }?.line)
        let nonce = try #require(hello["nonce"]?.text), clientNonce = try #require(auth["client_nonce"]?.text)
        let time = try #require(auth["time_ms"]?.text.flatMap { Int64($0) })
        #expect(key.authMAC(nonce: nonce, clientNonce: clientNonce, timeMilliseconds: time) == auth["mac"]?.text)
        #expect(key.welcomeMAC(nonce: nonce, clientNonce: clientNonce) == welcome["mac"]?.text)
        #expect(key.isValidWelcome(mac: try #require(welcome["mac"]?.text), nonce: nonce, clientNonce: clientNonce))
        #expect(BridgeOutgoing.auth(key: key, nonce: nonce, clientNonce: clientNonce, timeMilliseconds: time) == auth.serialized(), "byte for byte")

        var session = BridgeClientSession(key: key)
        let answer = try session.receive(try BridgeMessage(line: hello.serialized()), clientNonce: clientNonce, nowMilliseconds: time)
        #expect(answer == .send(auth.serialized()))
        let ready = try session.receive(try BridgeMessage(line: welcome.serialized()), clientNonce: "", nowMilliseconds: time)
        guard case .ready(let info) = ready else { Issue.record("expected ready, got \(ready)"); return }
        #expect(info.serverID == welcome["server_id"]?.text && info.platform == .mt5)

        // The same vector with another key: the client refuses the welcome (a bridge without the key).
        var impostor = BridgeClientSession(key: try BridgeKey(id: key.id, hex: String(repeating: "ee", count: 32)))
        _ = try impostor.receive(try BridgeMessage(line: hello.serialized()), clientNonce: clientNonce, nowMilliseconds: time)
        #expect(throws: BridgeProtocolError.self) { try impostor.receive(try BridgeMessage(line: welcome.serialized()), clientNonce: "", nowMilliseconds: time) }
    }

    @Test("checksum vectors: DigestChecksum builds every canonical line and checksum of checksum-vectors.jsonl")
    func checksumVectors() throws {
        let text = try String(contentsOf: Transcript.folder.appending(path: "checksum-vectors.jsonl"), encoding: .utf8)
        var vectors = 0
        for line in text.split(separator: "\n").dropFirst() {
            let value = try JSONValue(parsing: Array(line.utf8))
            if let vector = value["vector"] {
                guard case .object(let members)? = vector["record"] else { Issue.record("a vector needs a record"); continue }
                let canonical: String?
                if vector["platform"]?.text == "mt5" {
                    var deal = MT5DealRecord()
                    for (name, field) in members { if let index = MT5DealRecord.fieldIndex[name], let text = field.text { deal.set(fieldAt: index, text) } }
                    canonical = DigestChecksum.canonicalLine(deal)
                } else {
                    var trade = MT4TradeRecord()
                    for (name, field) in members { if let index = MT4TradeRecord.fieldIndex[name], let text = field.text { trade.set(fieldAt: index, text) } }
                    canonical = DigestChecksum.canonicalLine(trade)
                }
                #expect(canonical == vector["canonical_line"]?.text, "\(vector["note"]?.text ?? "")")
                var checksum = DigestChecksum()
                checksum.add(canonicalLine: canonical ?? "")
                #expect(checksum.description == vector["sha256_prefix"]?.text, "\(vector["note"]?.text ?? "")")
                vectors += 1
            } else if let bucket = value["bucket_vector"], case .array(let lines)? = bucket["canonical_lines"] {
                var checksum = DigestChecksum()
                for line in lines { checksum.add(canonicalLine: line.text ?? "") }
                #expect(checksum.description == bucket["checksum"]?.text && String(checksum.count) == bucket["count"]?.text)
                vectors += 1
            }
        }
        #expect(vectors >= 8)
        #expect(text.contains(#""canonical_line":"700001|1001|0|0|1735725600100|EURUSD.pro|105000000|1.0342|0|0|-3.5|0","sha256_prefix":"bd124b3ced8ea88b""#), "the spec's worked example")
    }

    // MARK: (b) the simulator reproduces the golden bridge lines

    @Test("the simulator answers every golden client line with the golden bridge lines", arguments: Transcript.recordedNames)
    func simulatorReproducesTranscript(name: String) async throws {
        let transcript = try Transcript.load(name)
        let simulator = try transcript.makeSimulator()
        let key = try transcript.key, clientKey = try transcript.clientKey
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await simulator.run(onListening: { continuation.yield($0) }) }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try await withLineConnection(port: port) { lines, outbound in
                var nonce = "", clientNonce = ""
                for (offset, entry) in transcript.entries.enumerated() {
                    let expected = comparable(entry.line, without: transcript.volatile)
                    let place = "\(name).jsonl:\(offset + 2)"
                    if entry.fromClient {
                        var line = entry.line
                        if entry.line["type"]?.text == "auth" {
                            // A live handshake: the nonce is fresh and the clock must be now (±300 s).
                            var generator = SystemRandomNumberGenerator()
                            clientNonce = BridgeKey.makeNonce(using: &generator)
                            line = try JSONValue(parsing: BridgeOutgoing.auth(key: clientKey, nonce: nonce, clientNonce: clientNonce, timeMilliseconds: BridgeConnection.utcNowMilliseconds()))
                            #expect(comparable(line, without: transcript.volatile) == expected, "\(place): mtsync's auth line has the golden shape")
                        }
                        try await send(line, to: outbound)
                        continue
                    }
                    let received = try #require(try await receive(&lines), "\(place): the simulator closed the connection early")
                    #expect(comparable(received, without: transcript.volatile) == expected, "\(place): got \(text(received))")
                    if received["type"]?.text == "hello" { nonce = received["nonce"]?.text ?? "" }
                    if received["type"]?.text == "welcome" {
                        #expect(key.isValidWelcome(mac: received["mac"]?.text ?? "", nonce: nonce, clientNonce: clientNonce), "\(place): welcome MAC")
                    }
                }
                if transcript.closes {
                    let after = try? await receive(&lines)
                    #expect(after == nil, "\(name): the bridge must close after its last line")
                }
            }
            group.cancelAll()
        }
    }

    // MARK: (c) mtsync's client reads the golden bridge lines

    /// What the client asked for on a replay connection, and what went wrong if the replay server saw a problem.
    struct Replayed: Sendable {
        var requests: [JSONValue] = []
        var problems: [String] = []
    }

    /// Serves one connection: the golden hello, a real check of the client's auth, then the golden welcome (its
    /// MAC made for the client's nonce) or the golden handshake error, then for each request the golden answer
    /// of `exchanges` in turn (ids rewritten to the client's). Returns what the client sent.
    static func replay<Result: Sendable>(
        _ transcript: Transcript, exchanges: [Transcript.Exchange], _ body: @Sendable (BridgeEndpoint) async throws -> Result
    ) async throws -> (Result?, Replayed, (any Error)?) {
        let key = try transcript.key
        let hello = try #require(transcript.hello)
        let handshakeError = transcript.entries.first { $0.line["type"]?.text == "error" && $0.line["id"] == .null }?.line
        let authFailsFirst = transcript.entries.firstIndex { $0.line["type"]?.text == "auth" } != nil && handshakeError?["code"]?.text == "auth_failed"
        let welcome = transcript.entries.first { $0.line["type"]?.text == "welcome" }?.line
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let port = try #require(server.channel.localAddress?.port)
        let endpoint = BridgeEndpoint(host: "127.0.0.1", port: port, key: try transcript.clientKey, connectTimeout: .seconds(5), readTimeout: .seconds(10))
        return try await withThrowingTaskGroup(of: Replayed?.self) { group in
            group.addTask {
                var replayed = Replayed()
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        // A client that closes while the last lines are still being written or the channel closed
                        // ends the conversation; what it did is judged by the problems and requests recorded so far.
                        do { try await connection.executeThenClose { inbound, outbound in
                            var lines = inbound.makeAsyncIterator()
                            try await send(hello, to: outbound)
                            guard let auth = try await receive(&lines) else { replayed.problems.append("no auth"); return }
                            let nonce = hello["nonce"]?.text ?? "", clientNonce = auth["client_nonce"]?.text ?? ""
                            let valid = key.isValidAuth(mac: auth["mac"]?.text ?? "", nonce: nonce, clientNonce: clientNonce,
                                                        timeMilliseconds: auth["time_ms"]?.text.flatMap { Int64($0) } ?? 0)
                            if valid == authFailsFirst { replayed.problems.append("the client's auth MAC is \(valid ? "valid" : "invalid") for the bridge's key") }
                            if let handshakeError {
                                try await send(handshakeError, to: outbound)
                                return
                            }
                            guard case .object(let members)? = welcome else { replayed.problems.append("no golden welcome"); return }
                            try await send(.object(members.map { $0.0 == "mac" ? ("mac", .string(key.welcomeMAC(nonce: nonce, clientNonce: clientNonce))) : $0 }), to: outbound)
                            for exchange in exchanges {
                                guard let request = try await receive(&lines) else { replayed.problems.append("the client closed before its request"); return }
                                replayed.requests.append(request)
                                let id = request["id"]?.text ?? ""
                                for response in exchange.responses { try await send(replacingID(of: response, with: id), to: outbound) }
                            }
                            while try await lines.next() != nil { replayed.problems.append("the client sent more than the transcript") }
                        } } catch let error as ChannelError where error == .ioOnClosedChannel {}
                        break
                    }
                }
                return replayed
            }
            var result: Result?
            var failure: (any Error)?
            do { result = try await body(endpoint) } catch { failure = error }
            var replayed = Replayed()
            for try await done in group { if let done { replayed = done } }
            return (result, replayed, failure)
        }
    }

    static func expectRequest(_ sent: [JSONValue], matches exchanges: [Transcript.Exchange], _ name: String) {
        #expect(sent.count == exchanges.count, "\(name): the client sent \(sent.count) requests, the transcript has \(exchanges.count)")
        for (actual, golden) in zip(sent, exchanges) {
            #expect(comparable(actual, without: [["id"]]) == comparable(golden.request, without: [["id"]]),
                    "\(name): mtsync sent \(text(actual)), the transcript says \(text(golden.request))")
        }
    }

    static func endCount(_ exchange: Transcript.Exchange) -> Int { exchange.terminal["count"]?.text.flatMap { Int($0) } ?? -1 }
    static func endMore(_ exchange: Transcript.Exchange) -> Bool { exchange.terminal["more"] == .bool(true) }

    @Test("replayed deals pages: the client reads every record, more and next as the transcript says")
    func replayDealsPaging() async throws {
        let transcript = try Transcript.load("deals-paging")
        let exchanges = transcript.exchanges
        let (pages, replayed, failure) = try await Self.replay(transcript, exchanges: exchanges) { endpoint in
            try await BridgeConnection.withConnection(to: endpoint) { connection in
                var pages: [(count: Int, more: Bool, next: String?, tickets: [String])] = []
                var after: (timeMsc: Int64, deal: UInt64)?
                while true {
                    let page = try await connection.dealsPage(fromMilliseconds: Self.dayStart, toMilliseconds: Self.dayStart + 2 * Self.day, after: after, limit: 3)
                    pages.append((page.records.count, page.more, page.next.map { "\($0.timeMsc)/\($0.deal)" }, page.records.compactMap(\.deal)))
                    guard page.more, let next = page.next else { return pages }
                    after = next
                }
            }
        }
        #expect(failure == nil, "\(String(describing: failure))")
        #expect(replayed.problems.isEmpty, "\(replayed.problems)")
        Self.expectRequest(replayed.requests, matches: exchanges, "deals-paging")
        let pagesRead = try #require(pages)
        #expect(pagesRead.count == exchanges.count && pagesRead.count >= 2)
        for (page, exchange) in zip(pagesRead, exchanges) {
            #expect(page.count == Self.endCount(exchange) && page.more == Self.endMore(exchange))
            let next = exchange.terminal["next"].flatMap { $0 == .null ? nil : "\($0["time_msc"]?.text ?? "")/\($0["deal"]?.text ?? "")" }
            #expect(page.next == next)
            #expect(page.tickets == exchange.responses.compactMap { $0["data"]?["Deal"]?.text })
        }
    }

    @Test("replayed daily pages: the client sends the golden requests, each after the previous end.next, and reads every record")
    func replayDaily() async throws {
        let transcript = try Transcript.load("daily")
        let exchanges = transcript.exchanges
        let (pages, replayed, failure) = try await Self.replay(transcript, exchanges: exchanges) { endpoint in
            try await BridgeConnection.withConnection(to: endpoint) { connection in
                var pages: [(records: [RawDailyRecord], more: Bool, next: String?)] = []
                var after: DailyPosition?
                while true {
                    let page = try await connection.dailyPage(fromMilliseconds: Self.dayStart, toMilliseconds: Self.dayStart + 2 * Self.day, after: after, limit: 2)
                    pages.append((page.records, page.more, page.next.map { "\($0.day)/\($0.login)" }))
                    guard page.more, let next = page.next else { return pages }
                    after = next
                }
            }
        }
        #expect(failure == nil, "\(String(describing: failure))")
        #expect(replayed.problems.isEmpty, "\(replayed.problems)")
        Self.expectRequest(replayed.requests, matches: exchanges, "daily")
        let pagesRead = try #require(pages)
        #expect(pagesRead.count == exchanges.count && pagesRead.count >= 2)
        for (page, exchange) in zip(pagesRead, exchanges) {
            #expect(page.records.count == Self.endCount(exchange) && page.more == Self.endMore(exchange))
            let next = exchange.terminal["next"].flatMap { $0 == .null ? nil : "\($0["day"]?.text ?? "")/\($0["login"]?.text ?? "")" }
            #expect(page.next == next)
            // Every field of every golden record, as the client read it.
            let golden = exchange.responses.filter { $0["type"]?.text == "daily" }.compactMap { $0["data"] }
            #expect(page.records.count == golden.count)
            for (record, data) in zip(page.records, golden) {
                for (index, name) in RawDailyRecord.fieldNames.enumerated() {
                    #expect(record.value(fieldAt: index) == data[name]?.text, "daily \(text(data)): \(name)")
                }
                #expect((try? record.normalized().get()) != nil, "daily \(text(data)) is a valid record")
            }
        }
        let positions = pagesRead.flatMap(\.records).map { "\($0.day ?? "")/\($0.login ?? "")" }
        #expect(Set(positions).count == positions.count, "no record read twice")
    }

    @Test("replayed server.info, accounts, symbols, digest and changes: the client parses what the transcript holds")
    func replayOtherMethods() async throws {
        // server.info (the ping exchange has no client API: it is not replayed).
        let info = try Transcript.load("server-info")
        let infoExchanges = info.exchanges.filter { $0.request["type"]?.text == "request" }
        let (serverInfo, infoReplay, infoFailure) = try await Self.replay(info, exchanges: infoExchanges) { endpoint in
            try await BridgeConnection.withConnection(to: endpoint) { connection in try await connection.serverInfo() }
        }
        #expect(infoFailure == nil && infoReplay.problems.isEmpty, "\(String(describing: infoFailure)) \(infoReplay.problems)")
        Self.expectRequest(infoReplay.requests, matches: infoExchanges, "server-info")
        #expect(serverInfo.map { comparable($0) } == infoExchanges.first?.responses.first?["data"].map { comparable($0) })

        let accounts = try Transcript.load("accounts")
        let (accountPages, accountReplay, accountFailure) = try await Self.replay(accounts, exchanges: accounts.exchanges) { endpoint in
            try await BridgeConnection.withConnection(to: endpoint) { connection in
                var pages: [(logins: [UInt64], more: Bool)] = []
                var after: UInt64?
                while true {
                    let page = try await connection.accountsPage(after: after, limit: 2)
                    pages.append((page.accounts.compactMap { $0.login.flatMap { UInt64($0) } }, page.more))
                    guard page.more, let last = page.next else { return pages }
                    after = last
                }
            }
        }
        #expect(accountFailure == nil && accountReplay.problems.isEmpty, "\(String(describing: accountFailure)) \(accountReplay.problems)")
        Self.expectRequest(accountReplay.requests, matches: accounts.exchanges, "accounts")
        #expect(accountPages?.map(\.logins) == accounts.exchanges.map { $0.responses.compactMap { $0["data"]?["login"]?.text.flatMap { UInt64($0) } } })
        #expect(accountPages?.map(\.more) == accounts.exchanges.map(Self.endMore))

        let symbols = try Transcript.load("symbols")
        let (symbolList, symbolReplay, symbolFailure) = try await Self.replay(symbols, exchanges: symbols.exchanges) { endpoint in
            try await BridgeConnection.withConnection(to: endpoint) { connection in try await connection.symbols() }
        }
        #expect(symbolFailure == nil && symbolReplay.problems.isEmpty, "\(String(describing: symbolFailure)) \(symbolReplay.problems)")
        Self.expectRequest(symbolReplay.requests, matches: symbols.exchanges, "symbols")
        #expect(symbolList?.map { comparable($0) } == symbols.exchanges.first?.responses.dropLast().compactMap { $0["data"].map { comparable($0) } })

        let digest = try Transcript.load("digest")
        let (digestRead, digestReplay, digestFailure) = try await Self.replay(digest, exchanges: digest.exchanges) { endpoint in
            try await BridgeConnection.withConnection(to: endpoint) { connection in
                let deals = try await connection.dealsPage(fromMilliseconds: Self.dayStart, toMilliseconds: Self.dayStart + 2 * Self.day, after: nil, limit: 1000)
                let hours = try await connection.digest(fromMilliseconds: Self.dayStart, toMilliseconds: Self.dayStart + Self.day, bucketMilliseconds: Self.hour)
                let days = try await connection.digest(fromMilliseconds: Self.dayStart, toMilliseconds: Self.dayStart + 2 * Self.day, bucketMilliseconds: Self.day)
                return (deals.records, hours, days)
            }
        }
        #expect(digestFailure == nil && digestReplay.problems.isEmpty, "\(String(describing: digestFailure)) \(digestReplay.problems)")
        Self.expectRequest(digestReplay.requests, matches: digest.exchanges, "digest")
        if let (deals, hours, days) = digestRead, digest.exchanges.count == 3 {
            for (buckets, exchange) in [(hours, digest.exchanges[1]), (days, digest.exchanges[2])] {
                #expect(buckets.map(\.checksum) == exchange.responses.compactMap { $0["data"]?["checksum"]?.text })
                #expect(buckets.count == Self.endCount(exchange))
                // The client's own checksum of the golden deals agrees with the golden buckets.
                for bucket in buckets {
                    var checksum = DigestChecksum()
                    for deal in deals where (bucket.fromMilliseconds..<bucket.toMilliseconds).contains(Int64(deal.timeMsc ?? "") ?? -1) {
                        checksum.add(canonicalLine: DigestChecksum.canonicalLine(deal) ?? "")
                    }
                    #expect(checksum.description == bucket.checksum && checksum.count == bucket.count)
                }
            }
            #expect(hours.contains { $0.count == 0 && $0.checksum == "0000000000000000" }, "empty hours are sent")
        }

        let changes = try Transcript.load("changes")
        let (changePages, changeReplay, changeFailure) = try await Self.replay(changes, exchanges: changes.exchanges) { endpoint in
            try await BridgeConnection.withConnection(to: endpoint) { connection in
                var pages: [[BridgeChange]] = []
                var since: Int64 = 0
                while true {
                    let page = try await connection.changesPage(since: since, limit: 2)
                    pages.append(page.changes)
                    guard page.more, let last = page.changes.last else { return pages }
                    since = last.sequence
                }
            }
        }
        #expect(changeFailure == nil && changeReplay.problems.isEmpty, "\(String(describing: changeFailure)) \(changeReplay.problems)")
        Self.expectRequest(changeReplay.requests, matches: changes.exchanges, "changes")
        #expect(changePages?.map { $0.map(\.sequence) } == changes.exchanges.map { $0.responses.compactMap { $0["data"]?["seq"]?.text.flatMap { Int64($0) } } })
        #expect(changePages?.joined().map(\.operation.rawValue) == changes.exchanges.flatMap { $0.responses.compactMap { $0["data"]?["op"]?.text } })
    }

    @Test("replayed errors reach the caller typed, with the code and retryability of the transcript", arguments: [
        "error-bad-request", "error-unknown-method", "error-range-too-large", "error-auth-failed", "error-auth-required",
    ])
    func replayErrors(name: String) async throws {
        let transcript = try Transcript.load(name)
        // The client closes the conversation at the first bridge error, so each error is replayed on its own connection.
        let cases: [[Transcript.Exchange]] = transcript.exchanges.isEmpty || transcript.entries.contains { $0.line["id"] == .null && $0.line["type"]?.text == "error" }
            ? [[]] : transcript.exchanges.map { [$0] }
        for exchanges in cases {
            let golden = exchanges.first?.terminal ?? transcript.entries.last { $0.line["type"]?.text == "error" }?.line ?? .null
            let (_, replayed, failure) = try await Self.replay(transcript, exchanges: exchanges) { endpoint in
                try await BridgeConnection.withConnection(to: endpoint) { connection in
                    guard let request = exchanges.first?.request else { return 0 }
                    let params = request["params"] ?? [:]
                    func integer(_ name: String) -> Int64 { params[name]?.text.flatMap { Int64($0) } ?? 0 }
                    switch request["method"]?.text {
                    case "deals": _ = try await connection.dealsPage(fromMilliseconds: integer("from_ms"), toMilliseconds: integer("to_ms"), after: nil, limit: Int(integer("limit")))
                    case "digest": _ = try await connection.digest(fromMilliseconds: integer("from_ms"), toMilliseconds: integer("to_ms"), bucketMilliseconds: integer("bucket_ms"))
                    // mtsync has no API for methods it does not use (MT4 trades here): any request gets the golden answer.
                    default: _ = try await connection.serverInfo()
                    }
                    return 0
                }
            }
            #expect(replayed.problems.isEmpty, "\(name): \(replayed.problems)")
            if let request = exchanges.first?.request, request["method"]?.text != "trades" {
                Self.expectRequest(replayed.requests, matches: exchanges, name)
            }
            let error = try #require(failure as? BridgeClientError, "\(name): expected a BridgeClientError, got \(String(describing: failure))")
            #expect(error.protocolError?.code == .remote(golden["code"]?.text ?? "?"), "\(name): \(error)")
            #expect(.bool(error.retryable) == golden["retryable"], "\(name): \(error)")
            #expect(error.protocolError?.requestID == golden["id"]?.text.map { _ in "r1" })
        }
    }
}
