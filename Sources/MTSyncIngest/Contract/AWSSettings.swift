import Foundation

/// Where and as whom to call an AWS service: credentials, region and endpoint, found the way the AWS CLI and
/// SDKs find them, so an operator's existing setup works unchanged.
///
/// Resolution reads only what it is given (an environment dictionary, a home directory): no process globals,
/// so it is tested with temporary files and a made-up environment.
public struct AWSSettings: Sendable, Hashable, CustomStringConvertible {
    public var credentials: AWSCredentials
    public var region: String
    /// Scheme, host and optional port, no trailing slash: `https://sqs.eu-west-1.amazonaws.com`, `http://127.0.0.1:5000`.
    public var endpoint: String
    public var profile: String

    public init(credentials: AWSCredentials, region: String, endpoint: String, profile: String = "default") {
        self.credentials = credentials
        self.region = region
        self.endpoint = endpoint
        self.profile = profile
    }

    public var description: String { "region \(region), endpoint \(endpoint), \(credentials)" }

    /// The files the AWS tools read: `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE`, else `~/.aws/credentials`
    /// and `~/.aws/config`.
    public struct Files: Sendable, Hashable {
        public var credentials: String?
        public var config: String?

        public init(credentials: String?, config: String?) {
            self.credentials = credentials
            self.config = config
        }

        public static func locate(environment: [String: String], homeDirectory: String?) -> Files {
            func path(_ variable: String, _ name: String) -> String? {
                if let given = environment[variable], !given.isEmpty { return expandTilde(given, homeDirectory: homeDirectory) }
                return homeDirectory.map { $0 + "/.aws/" + name }
            }
            return Files(credentials: path("AWS_SHARED_CREDENTIALS_FILE", "credentials"), config: path("AWS_CONFIG_FILE", "config"))
        }

        static func expandTilde(_ path: String, homeDirectory: String?) -> String {
            guard path.hasPrefix("~/"), let home = homeDirectory else { return path }
            return home + path.dropFirst(1)
        }
    }

    /// Resolves settings for `service` (its endpoint id, e.g. `sqs`).
    ///
    /// - Credentials: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`), else the profile
    ///   `AWS_PROFILE` (default `default`) in the credentials file, else in the config file.
    /// - Region: `AWS_REGION`, `AWS_DEFAULT_REGION`, else the profile's `region` in the config file.
    /// - Endpoint: `endpoint` (mtsync's own configuration), `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`,
    ///   the profile's `endpoint_url`, else `https://<service>.<region>.amazonaws.com`.
    public static func resolve(
        service: String,
        environment: [String: String],
        files: Files,
        endpoint explicitEndpoint: String? = nil
    ) throws(AWSConfigurationError) -> AWSSettings {
        func env(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        let profileGiven = env("AWS_PROFILE")
        let profile = profileGiven ?? "default"
        let credentialsFile = try files.credentials.map { path throws(AWSConfigurationError) in try AWSSharedConfigFile.load(path) } ?? nil
        let configFile = try files.config.map { path throws(AWSConfigurationError) in try AWSSharedConfigFile.load(path) } ?? nil
        // The credentials file names sections after the profile; the config file says `[profile NAME]`, except
        // for `[default]` (botocore accepts `[profile default]` too).
        let credentialsSection = credentialsFile?.sections[profile]
        let configSection = configFile?.sections["profile " + profile] ?? (profile == "default" ? configFile?.sections["default"] : nil)

        if profileGiven != nil, credentialsSection == nil, configSection == nil {
            throw AWSConfigurationError(.profileNotFound, """
                AWS_PROFILE is "\(profile)" but neither \(files.credentials ?? "the credentials file") nor \
                \(files.config ?? "the config file") has that profile; add it or fix AWS_PROFILE
                """)
        }

        let credentials = try resolveCredentials(
            env: env, profile: profile, credentialsSection: credentialsSection, configSection: configSection, files: files)

        guard let region = env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? configSection?["region"] else {
            throw AWSConfigurationError(.missingRegion, """
                no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or region = … in profile "\(profile)" of \
                \(files.config ?? "~/.aws/config")
                """)
        }

        let endpoint: String
        let candidates: [(String?, String)] = [
            (explicitEndpoint, "the configured endpoint"),
            (env("AWS_ENDPOINT_URL_" + service.uppercased().replacingOccurrences(of: " ", with: "_")), "AWS_ENDPOINT_URL_\(service.uppercased())"),
            (env("AWS_ENDPOINT_URL"), "AWS_ENDPOINT_URL"),
            (configSection?["endpoint_url"], "endpoint_url of profile \"\(profile)\""),
        ]
        if let (given, origin) = candidates.first(where: { $0.0 != nil }).map({ ($0.0!, $0.1) }) {
            endpoint = try validatedEndpoint(given, origin: origin)
        } else {
            endpoint = "https://\(service).\(region).amazonaws.com"
        }
        return AWSSettings(credentials: credentials, region: region, endpoint: endpoint, profile: profile)
    }

    static func resolveCredentials(
        env: (String) -> String?, profile: String,
        credentialsSection: [String: String]?, configSection: [String: String]?, files: Files
    ) throws(AWSConfigurationError) -> AWSCredentials {
        let keyID = env("AWS_ACCESS_KEY_ID")
        let secret = env("AWS_SECRET_ACCESS_KEY")
        switch (keyID, secret) {
        case let (keyID?, secret?):
            return AWSCredentials(accessKeyID: keyID, secretAccessKey: secret, sessionToken: env("AWS_SESSION_TOKEN"), source: "environment")
        case (.some, nil):
            // Half a key in the environment is a mistake, not a cue to fall back silently to another identity.
            throw AWSConfigurationError(.partialCredentials, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both or neither")
        case (nil, .some):
            throw AWSConfigurationError(.partialCredentials, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not; set both or neither")
        case (nil, nil):
            break
        }
        for (section, path) in [(credentialsSection, files.credentials), (configSection, files.config)] {
            guard let section else { continue }
            let keyID = section["aws_access_key_id"], secret = section["aws_secret_access_key"]
            if let keyID, let secret {
                return AWSCredentials(accessKeyID: keyID, secretAccessKey: secret, sessionToken: section["aws_session_token"],
                                      source: "profile \(profile) in \(path ?? "?")")
            }
            if keyID != nil || secret != nil {
                throw AWSConfigurationError(.partialCredentials, """
                    profile "\(profile)" in \(path ?? "?") has only one of aws_access_key_id and aws_secret_access_key; \
                    give both
                    """)
            }
        }
        let unsupported = ["role_arn", "credential_process", "sso_session", "sso_start_url", "web_identity_token_file"]
            .filter { credentialsSection?[$0] != nil || configSection?[$0] != nil }
        if !unsupported.isEmpty {
            throw AWSConfigurationError(.missingCredentials, """
                profile "\(profile)" gets its credentials through \(unsupported.joined(separator: ", ")), which mtsync \
                does not support; export static or temporary keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, \
                AWS_SESSION_TOKEN), e.g. with `aws configure export-credentials --format env`
                """)
        }
        throw AWSConfigurationError(.missingCredentials, """
            no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile "\(profile)" \
            aws_access_key_id and aws_secret_access_key in \(files.credentials ?? "~/.aws/credentials")
            """)
    }

    static func validatedEndpoint(_ text: String, origin: String) throws(AWSConfigurationError) -> String {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty
        else {
            throw AWSConfigurationError(.invalidEndpoint, "\(origin) is \"\(text)\", not an http(s) URL; give e.g. https://sqs.eu-west-1.amazonaws.com or http://127.0.0.1:5000")
        }
        guard url.path.isEmpty || url.path == "/", url.query == nil else {
            throw AWSConfigurationError(.invalidEndpoint, "\(origin) is \"\(text)\": an endpoint is scheme, host and port only, without a path or query")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart)" + (url.port.map { ":\($0)" } ?? "")
    }
}

/// Why AWS settings could not be resolved; the message says what to set. Never carries a secret.
public struct AWSConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case missingCredentials, partialCredentials, profileNotFound, missingRegion, invalidEndpoint, unreadableFile
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "AWS configuration: \(message)" }
}

/// The AWS shared config and credentials files: INI sections of `key = value` lines.
struct AWSSharedConfigFile: Sendable {
    var sections: [String: [String: String]]

    /// The file at `path`, or nil if there is none (the AWS tools treat a missing file as empty).
    static func load(_ path: String) throws(AWSConfigurationError) -> AWSSharedConfigFile? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw AWSConfigurationError(.unreadableFile, "cannot read \(path): \(error.localizedDescription); fix its permissions or point AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE elsewhere")
        }
        return parse(text)
    }

    static func parse(_ text: String) -> AWSSharedConfigFile {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            // Indented lines continue a nested block (`s3 =` + `  max_concurrent_requests = 2`): not ours.
            if let first = rawLine.first, first == " " || first == "\t" { continue }
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                // `[profile   name]` means `profile name`.
                let words = name.split(separator: " ", omittingEmptySubsequences: true)
                let normalized = words.joined(separator: " ")
                current = normalized
                if sections[normalized] == nil { sections[normalized] = [:] }
                continue
            }
            guard let section = current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            // No inline comments: botocore's parser keeps a `#` after the `=` as part of the value, and so do we.
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[section, default: [:]][key] = value
        }
        return AWSSharedConfigFile(sections: sections)
    }
}
