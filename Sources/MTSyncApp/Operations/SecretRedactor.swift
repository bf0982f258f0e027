/// Replaces every configured secret value in a log line with `[REDACTED]`: the last guard behind the code's own
/// care (secrets are types that print as `(secret)`, database URLs are masked), so that a secret which reaches a
/// message by some unforeseen path — an error quoting a request, a URL in a library's message — still never
/// reaches a log file.
public struct SecretRedactor: Sendable {
    public static let replacement = "[REDACTED]"
    /// Shorter values are not redacted: replacing every "abc" in every line would garble the logs and a secret
    /// that short protects nothing anyway.
    public static let minimumLength = 6

    /// Longest first, so a secret containing another is replaced whole.
    let secrets: [String]

    public init(secrets: [String]) {
        self.secrets = Array(Set(secrets.filter { $0.utf8.count >= Self.minimumLength })).sorted { $0.utf8.count > $1.utf8.count }
    }

    public var isEmpty: Bool { secrets.isEmpty }

    public func redact(_ text: String) -> String {
        guard !secrets.isEmpty else { return text }
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.split(separator: secret, omittingEmptySubsequences: false).joined(separator: Self.replacement)
        }
        return result
    }
}
