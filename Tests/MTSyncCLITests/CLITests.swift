import Foundation
import MTSyncStore
import MTSyncTestSupport
import Testing

/// Runs the built `mtsync` binary as a user or cron job would, and checks what it prints and its exit codes.
struct CLI {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] }
    }

    static func binary() throws -> URL {
        guard let path = ProcessInfo.processInfo.environment["MTSYNC_BIN"], FileManager.default.isExecutableFile(atPath: path) else {
            throw MissingBinary()
        }
        return URL(fileURLWithPath: path)
    }

    struct MissingBinary: Error, CustomStringConvertible {
        var description: String { "MTSYNC_BIN does not name a built mtsync: run the tests with scripts/test, which builds it and exports the path" }
    }

    /// Runs mtsync to its end without blocking a thread of Swift's cooperative pool while it runs: that pool has as many
    /// threads as cores (two in CI), and tests that sat in `waitUntilExit` for seconds at a time starved every
    /// other test of it (in-process bridges then missed their read timeouts). Output goes to files, not pipes, so
    /// a chatty process never blocks on a full pipe either.
    static func launch(_ arguments: [String], environment: [String: String] = [:], stdinFile: URL? = nil, executable: URL? = nil) async throws -> Result {
        let process = Process()
        process.executableURL = try executable ?? binary()
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "MTSYNC_DATABASE_URL")
        env.merge(environment) { $1 }
        process.environment = env
        let folder = FileManager.default.temporaryDirectory
        let out = folder.appending(path: "mtsync-cli-\(UUID().uuidString).out"), err = folder.appending(path: "mtsync-cli-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        let outHandle = try FileHandle(forWritingTo: out), errHandle = try FileHandle(forWritingTo: err)
        process.standardOutput = outHandle
        process.standardError = errHandle
        if let stdinFile { process.standardInput = try FileHandle(forReadingFrom: stdinFile) }
        let status = await (try process.runWatched()).wait()
        try? outHandle.close()
        try? errHandle.close()
        return Result(
            status: status,
            stdout: String(decoding: (try? Data(contentsOf: out)) ?? Data(), as: UTF8.self),
            stderr: String(decoding: (try? Data(contentsOf: err)) ?? Data(), as: UTF8.self))
    }

    /// Starts mtsync with `arguments`, waits `delay`, and kills it with SIGKILL if it is still running.
    /// - Returns: whether it was killed (false: it had finished by itself).
    static func killed(_ arguments: [String], environment: [String: String], after delay: Duration) async throws -> Bool {
        let process = Process()
        process.executableURL = try binary()
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let exit = try process.runWatched()
        try await Task.sleep(for: delay)
        let running = !exit.hasExited
        if running { kill(process.processIdentifier, SIGKILL) }
        await exit.wait()
        return running
    }

    /// Runs mtsync and kills it with SIGKILL as soon as `condition` holds (checked every 50 ms, for at most `timeout`).
    /// Returns whether it was still running then: a kill tied to what the process did, not to a clock a loaded
    /// machine may not keep.
    static func killed(
        _ arguments: [String], environment: [String: String], when condition: @Sendable () async throws -> Bool, timeout: Duration = .seconds(60)
    ) async throws -> Bool {
        let process = Process()
        process.executableURL = try binary()
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let exit = try process.runWatched()
        let deadline = ContinuousClock.now + timeout
        while !exit.hasExited, ContinuousClock.now < deadline, !(try await condition()) {
            try await Task.sleep(for: .milliseconds(50))
        }
        let running = !exit.hasExited
        if running { kill(process.processIdentifier, SIGKILL) }
        await exit.wait()
        return running
    }

    /// A fresh empty database on the shared test cluster, as a URL for `--database-url`.
    static func freshDatabaseURL() async throws -> String {
        try await TestDatabase.create().url
    }
}

@Suite("The mtsync command line")
struct CLITests {
    /// The newest migration the binary carries (migrations/ grows with every schema change).
    static let latestVersion = (try? Migrator.embedded().migrations.last?.version) ?? -1

    @Test("version prints the version and the schema it carries")
    func version() async throws {
        let result = try await CLI.launch(["version", "--json"])
        #expect(result.status == 0)
        #expect(result.json?["version"] as? String == "0.1.0")
        #expect(result.json?["schema_version"] as? String == String(Self.latestVersion))
    }

    @Test("migrate, then migrate --status and status, in JSON a script can parse")
    func migrateAndStatus() async throws {
        let url = try await CLI.freshDatabaseURL()
        let migrate = try await CLI.launch(["migrate", "--json", "--database-url", url])
        #expect(migrate.status == 0, "\(migrate.stderr)")
        let applied = migrate.json?["applied"] as? [[String: Any]]
        #expect(applied?.first?["name"] as? String == "initial")
        #expect(migrate.json?["schema_version"] as? Int == Self.latestVersion)

        // The URL can come from the environment too, and a second run is a no-op.
        let again = try await CLI.launch(["migrate", "--json"], environment: ["MTSYNC_DATABASE_URL": url])
        #expect(again.status == 0)
        #expect((again.json?["applied"] as? [Any])?.isEmpty == true)

        let migrationStatus = try await CLI.launch(["migrate", "--status", "--json", "--database-url", url])
        #expect(migrationStatus.status == 0)
        #expect(migrationStatus.json?["current_version"] as? Int == Self.latestVersion)
        #expect((migrationStatus.json?["pending"] as? [Any])?.isEmpty == true)

        let status = try await CLI.launch(["status", "--json", "--database-url", url])
        #expect(status.status == 0)
        let store = status.json?["store"] as? [String: Any]
        #expect(store?["schema_version"] as? Int == Self.latestVersion)
        let tables = store?["tables"] as? [[String: Any]]
        #expect(tables?.map { $0["table"] as? String } == ["servers", "sync_cursors", "fact_identities", "trading_facts", "outbox", "quarantine", "drop_files", "jobs"])
        let database = try #require(status.json?["database"] as? String)
        #expect(database.contains("host=127.0.0.1"))

        let text = try await CLI.launch(["status", "--database-url", url])
        #expect(text.status == 0)
        #expect(text.stdout.contains("Schema version \(Self.latestVersion) of \(Self.latestVersion)"))
    }

    @Test("an unreachable database exits 69 and never prints the password")
    func unreachableDatabase() async throws {
        let url = "postgresql://mtsync:Sup3r-S3cret-Value@127.0.0.1:1/mtsync"
        let text = try await CLI.launch(["status", "--database-url", url])
        #expect(text.status == 69)
        #expect(text.stderr.contains("connection failed"))
        let json = try await CLI.launch(["migrate", "--json", "--database-url", url])
        #expect(json.status == 69)
        #expect((json.json?["error"] as? [String: Any])?["kind"] as? String == "database_unavailable")
        for output in [text.stdout, text.stderr, json.stdout, json.stderr] {
            #expect(!output.contains("Sup3r-S3cret-Value"))
        }
    }

    /// Issue 20 (7): libpq refuses these before it tries any server; they exited 69 ("unreachable, retry") although
    /// no retry can fix them. The server in each is down too (port 1): the option must win over the connection.
    @Test("a connection option libpq refuses exits 78 (configuration), naming the option, never the password", arguments: [
        ("postgresql://mtsync:Sup3r-S3cret-Value@127.0.0.1:1/mtsync?sslmode=bogus", "sslmode"),
        ("postgresql://mtsync:Sup3r-S3cret-Value@127.0.0.1:1/mtsync?sslmod=require", "sslmod"),
        ("host=127.0.0.1 port=1 user=mtsync password=Sup3r-S3cret-Value bogus_keyword=1", "bogus_keyword"),
        ("host=127.0.0.1 port=1 password=Sup3r-S3cret-Value target_session_attrs=whatever", "target_session_attrs"),
        ("host=127.0.0.1 port=abc password=Sup3r-S3cret-Value", "port"),
        ("host=127.0.0.1 port=1 password=Sup3r-S3cret-Value keepalives=often", "keepalives"),
    ])
    func badConnectionOption(url: String, option: String) async throws {
        let text = try await CLI.launch(["status", "--database-url", url])
        #expect(text.status == 78, "\(text.stderr)")
        #expect(text.stderr.contains(option), "\(text.stderr)")
        let json = try await CLI.launch(["migrate", "--json", "--database-url", url])
        #expect(json.status == 78)
        #expect((json.json?["error"] as? [String: Any])?["kind"] as? String == "database_configuration")
        for output in [text.stdout, text.stderr, json.stdout, json.stderr] {
            #expect(!output.contains("Sup3r-S3cret-Value"))
        }
    }

    @Test("a usage error exits 64")
    func usageError() async throws {
        #expect(try await CLI.launch(["migrate", "--no-such-flag"]).status == 64)
    }
}
