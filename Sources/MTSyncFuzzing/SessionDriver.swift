import MTSyncBridge
import MTSyncCore

/// Drives a `BridgeClientSession` with the fuzzed messages as a client would: a new session after a failure (the
/// client reconnects), a request whenever a record arrives for one while idle. It stands in for a bridge that
/// holds the key, by giving a `welcome` the right MAC; otherwise no fuzzed input would get past the handshake.
struct SessionDriver {
    var session = BridgeClientSession(key: BridgeLineProperties.key)
    static let clientNonce = "fuzz-client-nonce"
    static let now: Int64 = 1_735_725_600_456

    mutating func feed(_ typed: BridgeMessage, line: BridgeLine, outcome: inout FuzzOutcome, mentionsKey: Bool) throws(PropertyViolation) {
        var message = typed
        switch session.state {
        case .ready:
            if let id = Self.requestID(of: message) {
                let request: [UInt8]
                do {
                    request = try session.request(id: id, method: "deals", params: ["limit": .integer(3)])
                } catch {
                    throw PropertyViolation("an idle session accepts a request", "\(error)")
                }
                let parsed = try? JSONValue(parsing: request)
                try require(parsed?["type"] == .string("request") && parsed?["id"] == .string(id), "a request line is a JSON request with its id", quoted(request))
            }
        case .awaitingWelcome(let nonce, let clientNonce):
            if case .welcome = message, case .message(.object(var members)) = line {
                members.removeAll { $0.0 == "mac" }
                members.append(("mac", .string(BridgeLineProperties.key.welcomeMAC(nonce: nonce, clientNonce: clientNonce))))
                if let authentic = try? BridgeMessage(line: JSONValue.object(members).serialized()) { message = authentic }
            }
        default:
            break
        }
        let before = session.state
        let received = Result { () throws(BridgeProtocolError) in
            try session.receive(message, clientNonce: Self.clientNonce, nowMilliseconds: Self.now)
        }
        switch received {
        case .success(let event):
            try Self.check(event, answering: message, before: before, after: session.state, mentionsKey: mentionsKey)
            outcome.add("event \(Self.name(of: event))")
        case .failure(let error):
            try require(session.state == .failed(error), "a session that throws is failed with that error", "\(session.state)")
            let repeated = Result { () throws(BridgeProtocolError) in
                try session.receive(.pong(id: "p"), clientNonce: Self.clientNonce, nowMilliseconds: Self.now)
            }
            try require(repeated == .failure(error), "a failed session stays failed with the same error", "\(repeated) after \(error)")
            try require(mentionsKey || !Array(error.description.utf8).contains(BridgeLineProperties.keyBytes), "no error shows the bridge key", error.description)
            outcome.add("session failed \(error.code)")
            // The client reconnects: a new session.
            session = BridgeClientSession(key: BridgeLineProperties.key)
        }
    }

    static func requestID(of message: BridgeMessage) -> String? {
        switch message {
        case .deal(let id, _), .trade(let id, _), .record(_, let id, _), .progress(let id): id
        case .end(let end): end.requestID
        default: nil
        }
    }

    static func check(
        _ event: BridgeClientSession.Event, answering message: BridgeMessage, before: BridgeClientSession.State, after: BridgeClientSession.State, mentionsKey: Bool
    ) throws(PropertyViolation) {
        switch (message, event) {
        case (.hello, .send(let line)):
            let auth = try? JSONValue(parsing: line)
            try require(auth?["type"] == .string("auth") && !line.contains(0x0A), "hello is answered by one auth line", quoted(line))
            try require(mentionsKey || !line.contains(BridgeLineProperties.keyBytes), "the auth line does not carry the key", quoted(line))
            guard case .awaitingWelcome = after else { throw PropertyViolation("after hello the session waits for welcome", "\(after)") }
        case (.welcome(let welcome), .ready(let ready)):
            try require(welcome == ready && after == .ready(welcome), "an authentic welcome makes the session ready", "\(after)")
        case (.deal(_, let deal), .deal(let received)):
            try require(deal == received, "a deal event carries the deal")
        case (.trade(_, let trade), .trade(let received)):
            try require(trade == received, "a trade event carries the trade")
        case (.record(let type, _, let data), .record(let receivedType, let receivedData)):
            try require(type == receivedType && data == receivedData, "a record event carries the record")
        case (.end(let end), .finished(let finished)):
            try require(end == finished, "an end event carries the end")
            // The count is checked by the connection (it also counts lines it could not read), as a reported anomaly.
            guard case .ready = after, case .awaitingResponse(_, let id, _) = before, id == end.requestID else {
                throw PropertyViolation("a request ends only with its own end", "\(before) → \(after)")
            }
        case (.progress, .progress), (.pong, .pong):
            break
        case (_, .stray):
            // A line of another request: dropped, and the session's state does not move.
            try require(requestID(of: message) != nil && before == after, "only a line of another request is stray, and it changes nothing", "\(message): \(before) → \(after)")
        default:
            throw PropertyViolation("each message is answered by its own event", "\(message) → \(event)")
        }
    }

    static func name(of event: BridgeClientSession.Event) -> String {
        switch event {
        case .send: "send"
        case .ready: "ready"
        case .deal: "deal"
        case .trade: "trade"
        case .record(let type, _): "record \(type)"
        case .finished(let end): "finished \(end.more)"
        case .progress: "progress"
        case .pong: "pong"
        case .stray: "stray"
        }
    }
}

/// Runs `body` over a copy of `bytes` in an allocation of exactly their size.
func withExactCopy<Result>(
    _ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) throws(PropertyViolation) -> Result
) throws(PropertyViolation) -> Result {
    let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
    defer { copy.deallocate() }
    _ = copy.initialize(from: bytes)
    return try body(UnsafeBufferPointer(copy))
}

extension Collection where Element == UInt8 {
    /// True when `needle` occurs in these bytes.
    func contains(_ needle: [UInt8]) -> Bool {
        guard let first = needle.first else { return true }
        var index = startIndex
        while let found = self[index...].firstIndex(of: first) {
            if self[found...].starts(with: needle) { return true }
            index = self.index(after: found)
        }
        return false
    }
}
