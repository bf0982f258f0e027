import Foundation

/// Why a lease operation refused.
public struct ServerLeaseError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        /// The lease is not (or no longer) this owner's tenure: released, taken over or fenced.
        public static let lost = Code("lease lost")
        /// No row in `servers` has this id.
        public static let unknownServer = Code("unknown server")
        /// An empty owner name or a ttl under a millisecond.
        public static let invalidArgument = Code("invalid lease request")
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
