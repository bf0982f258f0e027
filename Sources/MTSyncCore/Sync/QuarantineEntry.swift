/// Input that could not become a fact, kept with the reason and its exact bytes so an operator can see what the
/// bridge sent, fix the cause and replay it. Nothing bad is ever dropped silently.
public struct QuarantineEntry: Sendable, Hashable {
    public var serverID: String?
    /// The stream it came from (`deals`, `trades`, …).
    public var stream: String
    /// Where it came from: `tcp`, or `csv:<file name>`.
    public var source: String
    public var lineNumber: Int?
    /// A stable code for counting (`csv_syntax`, `column_count`, `Login.not_an_integer`, …).
    public var reasonCode: String
    /// A sentence saying what is wrong.
    public var reason: String
    public var raw: [UInt8]

    public init(serverID: String?, stream: String, source: String, lineNumber: Int?, reasonCode: String, reason: String, raw: [UInt8]) {
        self.serverID = serverID
        self.stream = stream
        self.source = source
        self.lineNumber = lineNumber
        self.reasonCode = reasonCode
        self.reason = reason
        self.raw = raw
    }
}
