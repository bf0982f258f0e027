import Foundation
import MTSyncIngest
import Testing

@Suite("AWS settings: credentials, region and endpoint found the way the AWS CLI finds them")
struct AWSSettingsTests {
    /// A throwaway home directory with `.aws/credentials` and `.aws/config` as given (nil: no such file).
    struct Home {
        let path: String
        var files: AWSSettings.Files { AWSSettings.Files(credentials: path + "/.aws/credentials", config: path + "/.aws/config") }

        init(credentials: String? = nil, config: String? = nil) throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("mtsync-aws-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path + "/.aws", withIntermediateDirectories: true)
            if let credentials { try credentials.write(toFile: path + "/.aws/credentials", atomically: true, encoding: .utf8) }
            if let config { try config.write(toFile: path + "/.aws/config", atomically: true, encoding: .utf8) }
        }

        func remove() { try? FileManager.default.removeItem(atPath: path) }
    }

    static let noFiles = AWSSettings.Files(credentials: nil, config: nil)
    static let environmentKeys = ["AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT", "AWS_SECRET_ACCESS_KEY": "env-secret-key", "AWS_REGION": "eu-west-1"]

    static let credentialsFile = """
        [default]
        aws_access_key_id = AKIADEFAULT
        aws_secret_access_key = default-secret-key

        # a comment, and a profile with a session token
        [prod]
        aws_access_key_id=AKIAPROD
        aws_secret_access_key=prod-secret-key
        aws_session_token = prod-session-token
        """

    static func resolve(
        _ environment: [String: String], _ files: AWSSettings.Files = noFiles, endpoint: String? = nil
    ) throws(AWSConfigurationError) -> AWSSettings {
        try AWSSettings.resolve(service: "sqs", environment: environment, files: files, endpoint: endpoint)
    }

    // MARK: Credentials

    @Test("keys in the environment are used, with the session token, and the endpoint defaults to the region's")
    func environmentKeys() throws {
        var environment = Self.environmentKeys
        environment["AWS_SESSION_TOKEN"] = "env-session-token"
        let home = try Home(credentials: Self.credentialsFile)
        defer { home.remove() }
        let settings = try Self.resolve(environment, home.files)
        #expect(settings.credentials == AWSCredentials(
            accessKeyID: "AKIAENVIRONMENT", secretAccessKey: "env-secret-key", sessionToken: "env-session-token", source: "environment"))
        #expect(settings.region == "eu-west-1")
        #expect(settings.endpoint == "https://sqs.eu-west-1.amazonaws.com")
        #expect(settings.profile == "default")
    }

    @Test("half a key in the environment is an error, not a silent fall-back to the profile", arguments: [
        ["AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT"],
        ["AWS_SECRET_ACCESS_KEY": "env-secret-key"],
        ["AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT", "AWS_SECRET_ACCESS_KEY": "   "],
    ])
    func partialEnvironmentKeys(keys: [String: String]) throws {
        let home = try Home(credentials: Self.credentialsFile)
        defer { home.remove() }
        let error = try #require(throws: AWSConfigurationError.self) {
            try Self.resolve(keys.merging(["AWS_REGION": "eu-west-1"]) { $1 }, home.files)
        }
        #expect(error.code == .partialCredentials)
        #expect(error.message.contains("set both or neither"))
        #expect(!error.description.contains("env-secret-key"))
    }

    @Test("a profile with only one of the two key lines is an error naming the profile and file")
    func partialProfileKeys() throws {
        let home = try Home(credentials: "[default]\naws_access_key_id = AKIADEFAULT\n")
        defer { home.remove() }
        let error = try #require(throws: AWSConfigurationError.self) { try Self.resolve(["AWS_REGION": "eu-west-1"], home.files) }
        #expect(error.code == .partialCredentials)
        #expect(error.message.contains("profile \"default\""))
        #expect(error.message.contains(home.files.credentials!))
    }

    @Test("without keys in the environment the profile's keys are read from the credentials file, AWS_PROFILE choosing it",
          arguments: [
              (nil, "default", AWSCredentials(accessKeyID: "AKIADEFAULT", secretAccessKey: "default-secret-key")),
              ("prod", "prod", AWSCredentials(accessKeyID: "AKIAPROD", secretAccessKey: "prod-secret-key", sessionToken: "prod-session-token")),
              (" prod ", "prod", AWSCredentials(accessKeyID: "AKIAPROD", secretAccessKey: "prod-secret-key", sessionToken: "prod-session-token")),
          ] as [(String?, String, AWSCredentials)])
    func profileCredentials(awsProfile: String?, profile: String, expected: AWSCredentials) throws {
        let home = try Home(credentials: Self.credentialsFile)
        defer { home.remove() }
        var environment = ["AWS_REGION": "eu-west-1"]
        environment["AWS_PROFILE"] = awsProfile
        let settings = try Self.resolve(environment, home.files)
        #expect(settings.profile == profile)
        #expect(settings.credentials.accessKeyID == expected.accessKeyID)
        #expect(settings.credentials.secretAccessKey == expected.secretAccessKey)
        #expect(settings.credentials.sessionToken == expected.sessionToken)
        #expect(settings.credentials.source == "profile \(profile) in \(home.files.credentials!)")
    }

    @Test("AWS_PROFILE naming a profile neither file has is an error that says so")
    func unknownProfile() throws {
        let home = try Home(credentials: Self.credentialsFile, config: "[profile staging]\nregion = eu-west-1\n")
        defer { home.remove() }
        let error = try #require(throws: AWSConfigurationError.self) {
            try Self.resolve(["AWS_PROFILE": "missing", "AWS_REGION": "eu-west-1"], home.files)
        }
        #expect(error.code == .profileNotFound)
        #expect(error.message.contains("\"missing\""))
    }

    @Test("the config file names a profile's section [profile NAME] (extra spaces allowed), and its keys count too")
    func configFileProfiles() throws {
        let home = try Home(config: """
            [default]
            region = us-west-2

            [profile   ci]
            region = ap-southeast-2
            aws_access_key_id = AKIACI
            aws_secret_access_key = ci-secret-key
            s3 =
              max_concurrent_requests = 2

            [ci]
            aws_access_key_id = AKIANOTAPROFILE
            aws_secret_access_key = not-a-profile
            """)
        defer { home.remove() }
        let settings = try Self.resolve(["AWS_PROFILE": "ci"], home.files)
        #expect(settings.credentials.accessKeyID == "AKIACI")
        #expect(settings.credentials.secretAccessKey == "ci-secret-key")
        #expect(settings.credentials.source == "profile ci in \(home.files.config!)")
        #expect(settings.region == "ap-southeast-2")
        #expect(settings.endpoint == "https://sqs.ap-southeast-2.amazonaws.com")
    }

    @Test("the default profile's section in the config file is [default] or [profile default]", arguments: ["[default]", "[profile default]"])
    func defaultProfileSection(header: String) throws {
        let home = try Home(credentials: Self.credentialsFile, config: "\(header)\nregion = sa-east-1\n")
        defer { home.remove() }
        let settings = try Self.resolve([:], home.files)
        #expect(settings.region == "sa-east-1")
        #expect(settings.credentials.accessKeyID == "AKIADEFAULT")
    }

    @Test("the credentials file wins over keys in the config file's profile")
    func credentialsFileFirst() throws {
        let home = try Home(
            credentials: Self.credentialsFile,
            config: "[profile prod]\nregion = eu-west-1\naws_access_key_id = AKIACONFIG\naws_secret_access_key = config-secret\n")
        defer { home.remove() }
        let settings = try Self.resolve(["AWS_PROFILE": "prod"], home.files)
        #expect(settings.credentials.accessKeyID == "AKIAPROD")
    }

    @Test("a profile that gets its keys some other way is refused with what to do instead", arguments: [
        "credential_process = /usr/local/bin/get-keys --json",
        "role_arn = arn:aws:iam::000000000000:role/mtsync\nsource_profile = base",
        "sso_session = corp",
        "web_identity_token_file = /var/run/token",
    ])
    func unsupportedCredentialSources(line: String) throws {
        let home = try Home(config: "[profile ops]\nregion = eu-west-1\n\(line)\n")
        defer { home.remove() }
        let error = try #require(throws: AWSConfigurationError.self) { try Self.resolve(["AWS_PROFILE": "ops"], home.files) }
        let setting = try #require(line.split(separator: " ").first)
        #expect(error.code == .missingCredentials)
        #expect(error.message.contains("profile \"ops\" gets its credentials through \(setting)"))
        #expect(error.message.contains("which mtsync does not support"))
        #expect(error.message.contains("aws configure export-credentials --format env"))
    }

    @Test("no keys anywhere is an error that names the variables and the file to fill in")
    func missingCredentials() throws {
        let home = try Home(config: "[default]\nregion = eu-west-1\n")
        defer { home.remove() }
        let error = try #require(throws: AWSConfigurationError.self) { try Self.resolve([:], home.files) }
        #expect(error.code == .missingCredentials)
        #expect(error.message.contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"))
        #expect(error.message.contains(home.files.credentials!))
    }

    @Test("a credentials path that cannot be read is an error, while a missing file is just empty")
    func unreadableFile() throws {
        let home = try Home()
        defer { home.remove() }
        // A directory where the file should be: unreadable as text, even for root.
        try FileManager.default.createDirectory(atPath: home.files.credentials!, withIntermediateDirectories: true)
        let error = try #require(throws: AWSConfigurationError.self) { try Self.resolve(Self.environmentKeys, home.files) }
        #expect(error.code == .unreadableFile)
        #expect(error.message.contains(home.files.credentials!))

        let empty = try Home()
        defer { empty.remove() }
        #expect(try Self.resolve(Self.environmentKeys, empty.files).credentials.accessKeyID == "AKIAENVIRONMENT")
    }

    // MARK: Region and endpoint

    @Test("the region is AWS_REGION, else AWS_DEFAULT_REGION, else the profile's region", arguments: [
        ("eu-west-1", "eu-west-2", "us-west-2", "eu-west-1"),
        (nil, "eu-west-2", "us-west-2", "eu-west-2"),
        ("", "eu-west-2", "us-west-2", "eu-west-2"),
        (nil, nil, "us-west-2", "us-west-2"),
    ] as [(String?, String?, String?, String)])
    func regionPrecedence(awsRegion: String?, defaultRegion: String?, profileRegion: String?, expected: String) throws {
        let home = try Home(credentials: Self.credentialsFile, config: profileRegion.map { "[default]\nregion = \($0)\n" })
        defer { home.remove() }
        var environment: [String: String] = [:]
        environment["AWS_REGION"] = awsRegion
        environment["AWS_DEFAULT_REGION"] = defaultRegion
        #expect(try Self.resolve(environment, home.files).region == expected)
    }

    @Test("no region anywhere is an error that says where to set one")
    func missingRegion() throws {
        let home = try Home(credentials: Self.credentialsFile)
        defer { home.remove() }
        let error = try #require(throws: AWSConfigurationError.self) { try Self.resolve([:], home.files) }
        #expect(error.code == .missingRegion)
        #expect(error.message.contains("AWS_REGION"))
    }

    @Test("the endpoint is mtsync's own setting, else AWS_ENDPOINT_URL_SQS, else AWS_ENDPOINT_URL, else the profile's endpoint_url, else AWS's",
          arguments: [
              ("http://127.0.0.1:5000", "http://sqs-env:1", "http://all-env:2", "http://profile:3", "http://127.0.0.1:5000"),
              (nil, "http://sqs-env:1", "http://all-env:2", "http://profile:3", "http://sqs-env:1"),
              (nil, nil, "http://all-env:2", "http://profile:3", "http://all-env:2"),
              (nil, nil, nil, "http://profile:3", "http://profile:3"),
              (nil, nil, nil, nil, "https://sqs.eu-west-1.amazonaws.com"),
          ] as [(String?, String?, String?, String?, String)])
    func endpointPrecedence(explicit: String?, sqsVariable: String?, anyVariable: String?, profileSetting: String?, expected: String) throws {
        let home = try Home(config: "[default]\nregion = eu-west-1\n" + (profileSetting.map { "endpoint_url = \($0)\n" } ?? ""))
        defer { home.remove() }
        var environment = Self.environmentKeys
        environment["AWS_ENDPOINT_URL_SQS"] = sqsVariable
        environment["AWS_ENDPOINT_URL"] = anyVariable
        #expect(try Self.resolve(environment, home.files, endpoint: explicit).endpoint == expected)
    }

    @Test("an endpoint is kept to scheme, host and port", arguments: [
        ("http://localhost:4566/", "http://localhost:4566"),
        ("HTTPS://sqs.eu-west-1.amazonaws.com", "https://sqs.eu-west-1.amazonaws.com"),
        ("https://vpce-0123.sqs.eu-west-1.vpce.amazonaws.com:443", "https://vpce-0123.sqs.eu-west-1.vpce.amazonaws.com:443"),
    ])
    func endpointNormalized(given: String, expected: String) throws {
        #expect(try Self.resolve(Self.environmentKeys, endpoint: given).endpoint == expected)
    }

    @Test("an endpoint that is not an http(s) URL of a host alone is refused, naming where it came from", arguments: [
        ("ftp://sqs.eu-west-1.amazonaws.com", "not an http(s) URL"),
        ("sqs.eu-west-1.amazonaws.com", "not an http(s) URL"),
        ("http://", "not an http(s) URL"),
        ("http://localhost:4566/000000000000/queue", "without a path or query"),
        ("http://localhost:4566?x=1", "without a path or query"),
    ])
    func endpointRefused(given: String, problem: String) throws {
        let error = try #require(throws: AWSConfigurationError.self) {
            try Self.resolve(Self.environmentKeys.merging(["AWS_ENDPOINT_URL": given]) { $1 })
        }
        #expect(error.code == .invalidEndpoint)
        #expect(error.message.hasPrefix("AWS_ENDPOINT_URL is \"\(given)\""))
        #expect(error.message.contains(problem))
    }

    // MARK: Files

    @Test("the files are AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE (with ~ expanded), else ~/.aws/credentials and ~/.aws/config")
    func fileLocations() {
        #expect(AWSSettings.Files.locate(environment: [:], homeDirectory: "/home/op")
            == AWSSettings.Files(credentials: "/home/op/.aws/credentials", config: "/home/op/.aws/config"))
        #expect(AWSSettings.Files.locate(
            environment: ["AWS_SHARED_CREDENTIALS_FILE": "~/keys/aws", "AWS_CONFIG_FILE": "/etc/mtsync/aws-config"], homeDirectory: "/home/op")
            == AWSSettings.Files(credentials: "/home/op/keys/aws", config: "/etc/mtsync/aws-config"))
        #expect(AWSSettings.Files.locate(environment: ["AWS_CONFIG_FILE": ""], homeDirectory: nil)
            == AWSSettings.Files(credentials: nil, config: nil))
    }

    // MARK: Secrets never print

    @Test("credentials and settings print their access key id and source, never the secret or the session token")
    func redaction() throws {
        var environment = Self.environmentKeys
        environment["AWS_SECRET_ACCESS_KEY"] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        environment["AWS_SESSION_TOKEN"] = "IQoJb3JpZ2luX2VjEXAMPLETOKEN"
        let settings = try Self.resolve(environment)
        var dumpedCredentials = ""
        dump(settings.credentials, to: &dumpedCredentials)
        var dumpedSettings = ""
        dump(settings, to: &dumpedSettings)
        let printed = [
            settings.credentials.description, String(reflecting: settings.credentials), "\(settings.credentials)", dumpedCredentials,
            settings.description, String(reflecting: settings), "\(settings)", dumpedSettings,
        ]
        for text in printed {
            #expect(!text.contains("wJalrXUtnFEMI"), "\(text)")
            #expect(!text.contains("IQoJb3JpZ2luX2VjEXAMPLETOKEN"), "\(text)")
            #expect(text.contains("AKIAENVIRONMENT"), "\(text)")
        }
        #expect(settings.credentials.description == "AWS credentials AKIAENVIRONMENT (secret redacted, session token redacted) from environment")
        #expect(dumpedCredentials.contains("<redacted>"))
    }
}
