import MTSyncCore

/// Why a bridge conversation cannot go on. `code` says what happened; `retryable` whether trying again later
/// (on a new connection) can help. Messages never contain the key.
public struct BridgeProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        /// A line is not valid JSON or not a valid message.
        public static let malformed = Code("malformed")
        /// A valid message arrived where the protocol does not allow it.
        public static let unexpected = Code("unexpected message")
        /// The bridge offers no protocol version mtsync speaks.
        public static let unsupportedVersion = Code("unsupported_version")
        /// The bridge's `welcome` MAC is wrong: it does not hold our key (or is not the bridge we think).
        public static let bridgeNotAuthenticated = Code("bridge not authenticated")
        /// A line exceeded the protocol's 1 MiB limit.
        public static let lineTooLong = Code("line_too_long")
        /// The bridge sent `error` with this code (see the spec's table).
        public static func remote(_ code: String) -> Code { Code(code) }
        public var description: String { name }
    }

    public let code: Code
    public let retryable: Bool
    public let message: String
    /// The request the error belongs to, if any.
    public let requestID: String?

    public init(code: Code, retryable: Bool, message: String, requestID: String? = nil) {
        self.code = code
        self.retryable = retryable
        self.message = message
        self.requestID = requestID
    }

    public var description: String {
        "bridge \(code)\(requestID.map { " (request \($0))" } ?? ""): \(message)\(retryable ? " — will retry" : "")"
    }
}

/// The protocol's messages, typed (bridge-protocol/README.md §2–4).
public enum BridgeMessage: Sendable, Hashable {
    public struct Hello: Sendable, Hashable {
        public let versions: [Int]
        public let bridge: String
        public let nonce: String
        public let timeMilliseconds: Int64?
    }

    public struct Welcome: Sendable, Hashable {
        public let version: Int
        public let serverID: String
        public let platform: Platform
        public let capabilities: [String]
        public let mac: String
    }

    public struct End: Sendable, Hashable {
        public let requestID: String
        public let count: Int
        public let more: Bool
        /// The position to continue after; null when `more` is false.
        public let next: JSONValue?
    }

    case hello(Hello)
    case welcome(Welcome)
    case deal(requestID: String, MT5DealRecord)
    case trade(requestID: String, MT4TradeRecord)
    /// `account`, `symbol`, `change`, `bucket` or `server_info` record: its type, request id and data.
    case record(type: String, requestID: String, data: JSONValue)
    case end(End)
    case error(BridgeProtocolError)
    case progress(requestID: String)
    case pong(id: String)

    static let recordTypes: Set<String> = ["account", "symbol", "change", "bucket", "daily", "server_info"]

    /// Types a decoded line; throws `.malformed` with the reason when it is not a valid message.
    public init(_ line: BridgeLine) throws(BridgeProtocolError) {
        switch line {
        case .deal(let id, let deal): self = .deal(requestID: id, deal)
        case .trade(let id, let trade): self = .trade(requestID: id, trade)
        case .message(let value): self = try Self.typed(value)
        }
    }

    public init(line bytes: some Collection<UInt8>) throws(BridgeProtocolError) {
        do {
            try self.init(try BridgeLine.decode(bytes))
        } catch let error as RecordDecodingError {
            throw BridgeProtocolError(code: .malformed, retryable: true, message: error.description)
        } catch let error as BridgeProtocolError {
            throw error
        } catch {
            throw BridgeProtocolError(code: .malformed, retryable: true, message: "\(error)")
        }
    }

    private static func typed(_ value: JSONValue) throws(BridgeProtocolError) -> BridgeMessage {
        func fail(_ reason: String) -> BridgeProtocolError { BridgeProtocolError(code: .malformed, retryable: true, message: reason) }
        func string(_ name: String) throws(BridgeProtocolError) -> String {
            guard case .string(let text)? = value[name] else { throw fail("\"\(name)\" must be a string") }
            return text
        }
        func integer(_ name: String) throws(BridgeProtocolError) -> Int64 {
            guard let text = value[name]?.text, let number = Int64(text) else { throw fail("\"\(name)\" must be an integer") }
            return number
        }
        let type = try string("type")
        switch type {
        case "hello":
            guard case .array(let versions)? = value["versions"] else { throw fail("hello needs \"versions\"") }
            return .hello(Hello(
                versions: versions.compactMap { $0.text.flatMap { Int($0) } }, bridge: (try? string("bridge")) ?? "",
                nonce: try string("nonce"), timeMilliseconds: try? integer("time_ms")))
        case "welcome":
            guard let platform = Platform(rawValue: try string("platform")) else { throw fail("welcome: platform must be mt4 or mt5") }
            guard case .array(let capabilities)? = value["capabilities"] else { throw fail("welcome needs \"capabilities\"") }
            return .welcome(Welcome(
                version: Int(try integer("version")), serverID: try string("server_id"), platform: platform,
                capabilities: capabilities.compactMap { if case .string(let text) = $0 { text } else { nil } }, mac: try string("mac")))
        case "end":
            guard case .bool(let more)? = value["more"] else { throw fail("end: \"more\" must be true or false") }
            let next = value["next"].flatMap { $0 == .null ? nil : $0 }
            return .end(End(requestID: try string("id"), count: Int(try integer("count")), more: more, next: next))
        case "error":
            let id: String? = if case .string(let text)? = value["id"] { text } else { nil }
            guard case .bool(let retryable)? = value["retryable"] else { throw fail("error: \"retryable\" must be true or false") }
            return .error(BridgeProtocolError(code: .remote(try string("code")), retryable: retryable, message: (try? string("message")) ?? "", requestID: id))
        case "progress":
            return .progress(requestID: try string("id"))
        case "pong":
            return .pong(id: try string("id"))
        case let recordType where recordTypes.contains(recordType):
            guard let data = value["data"], case .object = data else { throw fail("\(recordType) record needs a \"data\" object") }
            return .record(type: recordType, requestID: try string("id"), data: data)
        default:
            throw fail("unknown message type \(String(reflecting: type))")
        }
    }
}

/// Lines mtsync sends.
public enum BridgeOutgoing {
    public static func auth(key: BridgeKey, nonce: String, clientNonce: String, timeMilliseconds: Int64, version: Int = 1) -> [UInt8] {
        let message: JSONValue = [
            "type": "auth", "version": .integer(version), "key_id": .string(key.id), "client_nonce": .string(clientNonce),
            "time_ms": .integer(timeMilliseconds), "mac": .string(key.authMAC(nonce: nonce, clientNonce: clientNonce, timeMilliseconds: timeMilliseconds)),
        ]
        return message.serialized()
    }

    public static func request(id: String, method: String, params: JSONValue) -> [UInt8] {
        let message: JSONValue = ["type": "request", "id": .string(id), "method": .string(method), "params": params]
        return message.serialized()
    }

    public static func ping(id: String) -> [UInt8] {
        let message: JSONValue = ["type": "ping", "id": .string(id)]
        return message.serialized()
    }
}
