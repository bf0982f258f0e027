import Foundation
import MTSyncApp

/// The configuration parser, `MTSyncConfiguration.parse(yaml:file:baseDirectory:environment:)`, on fuzzed text,
/// in a sandbox folder holding the files a configuration points at and with an environment full of secrets.
///
/// Besides "no trap" (and nothing but `ConfigurationErrors` thrown, which the typed `throws` already promises):
/// - a refused file has at least one problem, each with a message and a location;
/// - no problem, and no printed or dumped configuration, shows a secret the environment or a secret file holds,
///   unless the fuzzed text itself contains it.
enum ConfigurationProperties {
    static func check(_ input: UnsafeBufferPointer<UInt8>) throws(PropertyViolation) -> FuzzOutcome {
        var outcome = FuzzOutcome()
        let text = String(decoding: input, as: UTF8.self)
        guard !ConfigurationSandbox.reachesSystemFiles(input) else {
            outcome.add("skipped")
            return outcome
        }
        let sandbox = ConfigurationSandbox.shared
        // Half the inputs with MTSYNC_DATABASE_URL set (it overrides database.url and carries a password).
        let environment = input.count % 2 == 0 ? sandbox.environment : sandbox.environmentWithDatabaseURL
        let textBytes = Array(text.utf8)
        let secrets = sandbox.secrets.filter { !textBytes.contains($0) }
        let parsed = Result { () throws(ConfigurationErrors) in
            try MTSyncConfiguration.parse(yaml: text, file: "fuzz.yaml", baseDirectory: sandbox.folder, environment: environment)
        }
        switch parsed {
        case .success(let configuration):
            let shown = Array((String(describing: configuration) + String(reflecting: configuration)).utf8)
            for secret in secrets {
                try require(!shown.contains(secret), "a configuration never prints a secret", String(decoding: secret, as: UTF8.self))
            }
            _ = configuration.secretsForRedaction(environment: environment)
            outcome.add("valid \(configuration.servers.count)")
        case .failure(let error):
            try require(!error.problems.isEmpty, "a refused file has at least one problem")
            let description = Array(error.description.utf8)
            for secret in secrets {
                try require(!description.contains(secret), "no problem shows a secret", "\(String(decoding: secret, as: UTF8.self)) in \(error.description)")
            }
            for problem in error.problems {
                try require(!problem.message.isEmpty, "every problem says what is wrong", "\(problem)")
                try require(problem.line.map { $0 >= 1 } ?? true, "a problem's line is 1-based", "\(problem)")
                // The kind of problem, not the fuzzed value in it: the path without indexes, the message up to a quote.
                outcome.add(problem.path.filter { !$0.isNumber } + " " + String(problem.message.prefix { $0 != "\"" }.prefix(32)))
            }
        }
        return outcome
    }
}

/// A throwaway folder with what fuzzed configurations point at (key files, TLS files, rules, a drop root), and
/// environments holding secrets: bridge keys, an invalid key, the HTTP ingest's HMAC secret and bearer token,
/// the feed's API key, PGPASSWORD, AWS credentials and a database URL with a password. Created once per process
/// and removed at exit.
struct ConfigurationSandbox: Sendable {
    let folder: String
    let environment: [String: String]
    let environmentWithDatabaseURL: [String: String]
    /// Every secret value, as UTF-8.
    let secrets: [[UInt8]]

    static let shared = ConfigurationSandbox()

    static let files: [String: String] = [
        "live-mt5.key": "7c3a9e1f5b2d8c4a6e0f1b3d5c7a9e2f4b6d8c0a1e3f5b7d9c2a4e6f8b0d1c3e\n",
        "bad.key": "file-not-a-key-Pq20Zs9d\n",
        "ingest.secret": "file-hmac-Gk64Wa3m\n",
        "returning-ai-key": "file-api-Xe15Hu7r\n",
        "bridge-ca.pem": "-----BEGIN CERTIFICATE-----\n",
        "client.pem": "-----BEGIN CERTIFICATE-----\n",
        "client-key.pem": "-----BEGIN PRIVATE KEY-----\n",
        "live-mt4-rules.json": #"{"symbols": {"suffixes": [".m4"], "map": {"GOLD": "XAUUSD"}}, "filters": {"exclude_logins": ["90000-90999"]}}"#,
        "bad-rules.json": #"{"symbols": {"suffixes": 5}, "colour": 1}"#,
    ]

    static let secretFiles = ["live-mt5.key", "bad.key", "ingest.secret", "returning-ai-key"]

    static let secretVariables: [String: String] = [
        "MTSYNC_KEY_LIVE_MT5": "e1d2c3b4a5968778695a4b3c2d1e0f1f2e3d4c5b6a79887766554433221100ff",
        "FUZZ_BAD_KEY": "env-not-a-key-4hX9qT7w",
        "FUZZ_SHORT_KEY": "abcdef0123456789abcdef",
        "FUZZ_INGEST_SECRET": "env-hmac-Zq81nV5s",
        "FUZZ_BEARER_TOKEN": "env-bearer-Jx72LpQ0",
        "FUZZ_API_KEY": "env-api-Wm39Rt6y",
        "PGPASSWORD": "env-pg-Hd48Ks2e",
        "AWS_SECRET_ACCESS_KEY": "env-aws-Ty63Bn8u",
        "AWS_SESSION_TOKEN": "env-aws-token-Cv90Qm4p",
    ]

    static let databasePassword = "env-db-Lr57Vc1x"

    init() {
        let folder = FileManager.default.temporaryDirectory
            .appending(path: "mtsync-fuzz-config-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))")
        try? FileManager.default.createDirectory(at: folder.appending(path: "drop"), withIntermediateDirectories: true)
        for (name, contents) in Self.files {
            try? Data(contents.utf8).write(to: folder.appending(path: name))
        }
        self.folder = folder.path
        var environment = Self.secretVariables
        environment["HOME"] = folder.path
        environment["FUZZ_EMPTY"] = ""
        self.environment = environment
        environment["MTSYNC_DATABASE_URL"] = "postgresql://mtsync:\(Self.databasePassword)@db.internal/mtsync"
        environmentWithDatabaseURL = environment
        var secrets = Self.secretVariables.values.flatMap { [$0, $0.uppercased()] } + [Self.databasePassword]
        secrets += Self.secretFiles.compactMap { Self.files[$0]?.trimmingCharacters(in: .whitespacesAndNewlines) }
        self.secrets = secrets.map { Array($0.utf8) }
        atexit { try? FileManager.default.removeItem(atPath: ConfigurationSandbox.shared.folder) }
    }

    /// Paths under /dev, /proc or /sys could name a file that never ends (`key_file: /dev/zero`): such inputs are
    /// not run. (Reading a configured file to its end is the parser's business; the fuzzer should not hang on it.)
    static func reachesSystemFiles(_ input: UnsafeBufferPointer<UInt8>) -> Bool {
        systemPaths.contains { input.contains($0) }
    }

    static let systemPaths = ["dev/", "proc/", "sys/", "/dev", "/proc", "/sys"].map { Array($0.utf8) }
}
