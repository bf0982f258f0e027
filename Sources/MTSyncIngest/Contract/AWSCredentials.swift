/// An AWS access key, with the session token of temporary credentials.
///
/// Its `description`, `debugDescription` and mirror (what `print`, string interpolation, `dump` and
/// swift-log's metadata show) name the access key id and where the key came from, never the secret or the token:
/// a credential logged by accident must not be a credential leaked.
public struct AWSCredentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// Where they were found, for messages: "environment", "profile default in /root/.aws/credentials".
    public var source: String

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, source: String = "given") {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.source = source
    }

    public var description: String {
        "AWS credentials \(accessKeyID) (secret redacted\(sessionToken == nil ? "" : ", session token redacted")) from \(source)"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["accessKeyID": accessKeyID, "secretAccessKey": "<redacted>",
                                "sessionToken": sessionToken == nil ? "none" : "<redacted>", "source": source])
    }
}
