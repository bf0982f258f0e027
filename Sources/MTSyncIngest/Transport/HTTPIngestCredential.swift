/// An optional access credential for the HTTP data-ingest, sent on every request besides the signature (many
/// ingest gateways authenticate the caller before the application checks the MAC). Prints as its header name
/// only, never its value.
public struct HTTPIngestCredential: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let headerName: String
    private let value: String

    /// `Authorization: Bearer <token>`.
    public static func bearer(_ token: String) throws(HTTPIngestError) -> HTTPIngestCredential {
        try HTTPIngestCredential(headerName: "Authorization", value: "Bearer " + token)
    }

    /// Any header, e.g. `X-Api-Key: <key>`.
    public static func header(_ name: String, value: String) throws(HTTPIngestError) -> HTTPIngestCredential {
        try HTTPIngestCredential(headerName: name, value: value)
    }

    private init(headerName: String, value: String) throws(HTTPIngestError) {
        // A header name is an RFC 9110 token; a value must not break out of its line (no CR/LF smuggling).
        let tokenBytes = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        guard !headerName.isEmpty, headerName.utf8.allSatisfy(tokenBytes.contains) else {
            throw HTTPIngestError(code: .invalidConfiguration, message: "the HTTP ingest credential header name \"\(headerName)\" is not a valid header name: use letters, digits and - only")
        }
        guard !value.isEmpty, !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) else {
            throw HTTPIngestError(code: .invalidConfiguration, message: "the HTTP ingest credential for header \(headerName) is empty or contains a line break: check the configured value")
        }
        self.headerName = headerName
        self.value = value
    }

    /// The header value, for the request only. Never log it.
    public func revealValue() -> String { value }

    public var description: String { "\(headerName): (secret)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["headerName": headerName], displayStyle: .struct) }
}
