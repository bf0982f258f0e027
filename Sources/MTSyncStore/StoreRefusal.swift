import Foundation

/// Why the store refused an operator's or a process's request before changing anything — a lease (`ServerLease`,
/// `InstanceLock`) or a cursor (`CursorControl`): a value a person must change, or a tenure that is not this
/// process's. Not a database failure (that is `PostgresError`).
public struct StoreRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        /// The lease is not (or no longer) this owner's tenure: released, taken over or fenced.
        public static let lost = Code("lease lost")
        /// No row in `servers` has this id.
        public static let unknownServer = Code("unknown server")
        /// Not a stream name, or not a stream of the server's platform (MT5: deals; MT4: trades, open_trades).
        public static let unknownStream = Code("unknown stream")
        /// An empty owner, operator name or reason, a ttl under a millisecond, or a position outside what a cursor
        /// can hold.
        public static let invalidArgument = Code("invalid request")
        /// Another live process runs this instance id as a daemon (`InstanceLock`): its message names it.
        public static let instanceInUse = Code("instance id in use")
        public var description: String { name }
    }

    public let code: Code
    public let serverID: String?
    public let message: String

    public init(code: Code, serverID: String?, message: String) {
        self.code = code
        self.serverID = serverID
        self.message = message
    }

    public var description: String { "\(code)\(serverID.map { " (server \($0))" } ?? ""): \(message)" }
}
