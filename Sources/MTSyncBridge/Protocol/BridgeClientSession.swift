import MTSyncCore

/// The client side of a bridge conversation as a sans-I/O state machine (bridge-protocol/README.md §2–3): fed
/// the messages the bridge sends, it says what to send back and what each message means. The TCP client is a
/// thin shell around it; the tests drive it with the golden transcripts, no sockets needed.
public struct BridgeClientSession: Sendable {
    public enum State: Sendable, Hashable {
        case awaitingHello
        case awaitingWelcome(nonce: String, clientNonce: String)
        case ready(BridgeMessage.Welcome)
        case awaitingResponse(BridgeMessage.Welcome, requestID: String, records: Int)
        case failed(BridgeProtocolError)
    }

    /// What a received message meant.
    public enum Event: Sendable, Hashable {
        /// Send this line (the `auth` answering `hello`).
        case send([UInt8])
        /// Authenticated: requests may be sent.
        case ready(BridgeMessage.Welcome)
        case deal(MT5DealRecord)
        case trade(MT4TradeRecord)
        case record(type: String, data: JSONValue)
        /// The current request is complete.
        case finished(BridgeMessage.End)
        case progress
        case pong(id: String)
        /// A line of an earlier request (a repeated `end`, records after `end`): a bridge bug, ignored and reported.
        case stray(String)
    }

    public private(set) var state: State = .awaitingHello
    public let key: BridgeKey
    public static let supportedVersions = [1]

    public init(key: BridgeKey) {
        self.key = key
    }

    /// Feeds one message from the bridge. `clientNonce` and `nowMilliseconds` (UTC) are used only to answer
    /// `hello`; they are parameters so that the machine stays deterministic. Any protocol violation or bridge
    /// error moves the session to `failed` and is thrown.
    public mutating func receive(_ message: BridgeMessage, clientNonce: String, nowMilliseconds: Int64) throws(BridgeProtocolError) -> Event {
        do {
            return try transition(message, clientNonce: clientNonce, nowMilliseconds: nowMilliseconds)
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func transition(_ message: BridgeMessage, clientNonce: String, nowMilliseconds: Int64) throws(BridgeProtocolError) -> Event {
        switch (state, message) {
        case (.failed(let error), _):
            throw error
        case (_, .error(let error)):
            throw error
        case (.awaitingHello, .hello(let hello)):
            guard let version = Self.supportedVersions.filter(hello.versions.contains).max() else {
                throw BridgeProtocolError(code: .unsupportedVersion, retryable: false, message: "the bridge speaks versions \(hello.versions), mtsync speaks \(Self.supportedVersions)")
            }
            state = .awaitingWelcome(nonce: hello.nonce, clientNonce: clientNonce)
            return .send(BridgeOutgoing.auth(key: key, nonce: hello.nonce, clientNonce: clientNonce, timeMilliseconds: nowMilliseconds, version: version))
        case (.awaitingWelcome(let nonce, let sentClientNonce), .welcome(let welcome)):
            guard key.isValidWelcome(mac: welcome.mac, nonce: nonce, clientNonce: sentClientNonce) else {
                throw BridgeProtocolError(code: .bridgeNotAuthenticated, retryable: false, message: "the bridge's welcome MAC does not match key \(String(reflecting: key.id)); it does not hold the key")
            }
            state = .ready(welcome)
            return .ready(welcome)
        case (.ready, .pong(let id)), (.awaitingResponse, .pong(let id)):
            return .pong(id: id)
        case (.awaitingResponse(let welcome, let id, let records), .deal(let requestID, let deal)) where requestID == id:
            state = .awaitingResponse(welcome, requestID: id, records: records + 1)
            return .deal(deal)
        case (.awaitingResponse(let welcome, let id, let records), .trade(let requestID, let trade)) where requestID == id:
            state = .awaitingResponse(welcome, requestID: id, records: records + 1)
            return .trade(trade)
        case (.awaitingResponse(let welcome, let id, let records), .record(let type, let requestID, let data)) where requestID == id:
            state = .awaitingResponse(welcome, requestID: id, records: records + 1)
            return .record(type: type, data: data)
        case (.awaitingResponse(_, let id, _), .progress(let requestID)) where requestID == id:
            return .progress
        case (.awaitingResponse(let welcome, let id, _), .end(let end)) where end.requestID == id:
            // A `count` that disagrees with the records that arrived is the client's to report (it also counts lines
            // it could not read); the records themselves are what they are.
            state = .ready(welcome)
            return .finished(end)
        case (.awaitingResponse(_, let id, _), let message) where Self.requestID(of: message).map({ $0 != id }) ?? false:
            // The id is the protocol's own way to tell an old answer from the current one: a line of an earlier
            // request cannot be mistaken for this one's, so it is dropped and reported, and the answer goes on.
            return .stray("\(Self.name(of: message)) arrived while waiting for request \(id)")
        case (.ready, let message) where Self.requestID(of: message) != nil:
            return .stray("\(Self.name(of: message)) arrived with no request open")
        default:
            throw BridgeProtocolError(code: .unexpected, retryable: true, message: "\(Self.name(of: message)) is not expected while \(Self.name(of: state))")
        }
    }

    /// Starts a request; only one may be open at a time (protocol version 1).
    public mutating func request(id: String, method: String, params: JSONValue) throws(BridgeProtocolError) -> [UInt8] {
        guard case .ready(let welcome) = state else {
            throw BridgeProtocolError(code: .unexpected, retryable: false, message: "cannot send \(method) while \(Self.name(of: state))")
        }
        state = .awaitingResponse(welcome, requestID: id, records: 0)
        return BridgeOutgoing.request(id: id, method: method, params: params)
    }

    private static func requestID(of message: BridgeMessage) -> String? {
        switch message {
        case .deal(let id, _), .trade(let id, _), .record(_, let id, _), .progress(let id): id
        case .end(let end): end.requestID
        case .hello, .welcome, .error, .pong: nil
        }
    }

    private static func name(of message: BridgeMessage) -> String {
        switch message {
        case .hello: "hello"
        case .welcome: "welcome"
        case .deal(let id, _): "a deal for request \(id)"
        case .trade(let id, _): "a trade for request \(id)"
        case .record(let type, let id, _): "a \(type) record for request \(id)"
        case .end(let end): "end of request \(end.requestID)"
        case .error: "error"
        case .progress(let id): "progress of request \(id)"
        case .pong: "pong"
        }
    }

    private static func name(of state: State) -> String {
        switch state {
        case .awaitingHello: "waiting for hello"
        case .awaitingWelcome: "waiting for welcome"
        case .ready: "idle"
        case .awaitingResponse(_, let id, _): "waiting for request \(id)"
        case .failed: "failed"
        }
    }
}
