import Foundation

extension MTSyncConfiguration {
    /// The environment variables whose values are secrets wherever mtsync runs: the AWS credentials (the SQS
    /// sink reads them) and libpq's password.
    public static let secretEnvironmentVariables = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD"]

    /// Every secret this configuration holds or the environment gives mtsync — bridge keys, the HMAC secret and
    /// bearer token of the HTTP ingest, the file-ingest API key, database passwords, AWS credentials — for the log
    /// handler to redact. Never printed itself.
    public func secretsForRedaction(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var secrets: [String] = []
        for server in servers {
            if case .bridge(let bridge) = server.source {
                let hex = bridge.key.revealHex()
                secrets += [hex, hex.lowercased(), hex.uppercased()]
            }
        }
        if case .http(let http) = ingest?.destination {
            secrets.append(http.secret.reveal())
            if let token = http.bearerToken { secrets.append(token.reveal()) }
        }
        if let fileIngest = feed?.fileIngest { secrets.append(fileIngest.apiKey.reveal()) }
        for url in [databaseURL?.connectionString, environment[Self.databaseURLVariable]].compactMap({ $0 }) {
            secrets += DatabaseURL.passwords(in: url)
        }
        secrets += Self.secretEnvironmentVariables.compactMap { environment[$0] }
        return secrets.filter { !$0.isEmpty }
    }
}

extension DatabaseURL {
    /// The passwords `masked` hides, as written and percent-decoded (a URL's userinfo is percent-encoded; libpq
    /// decodes it, and an error could quote either form).
    public static func passwords(in text: String) -> [String] {
        let pieces = masked(text).components(separatedBy: "***")
        guard pieces.count > 1 else { return [] }
        var passwords: [String] = []
        var rest = Substring(text)
        guard rest.hasPrefix(pieces[0]) else { return [] }
        rest = rest.dropFirst(pieces[0].count)
        for piece in pieces.dropFirst() {
            // Everything up to where the next unmasked piece resumes was a password.
            let end = piece.isEmpty ? rest.endIndex : (rest.range(of: piece)?.lowerBound ?? rest.endIndex)
            var password = String(rest[..<end])
            if password.hasPrefix("'") && password.hasSuffix("'") && password.count >= 2 { password = String(password.dropFirst().dropLast()) }
            passwords.append(password)
            if let decoded = password.removingPercentEncoding, decoded != password { passwords.append(decoded) }
            rest = rest[end...].dropFirst(piece.count)
        }
        return passwords.filter { !$0.isEmpty }
    }
}
