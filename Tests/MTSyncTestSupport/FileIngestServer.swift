import AsyncHTTPClient
import Foundation
import NIOCore

/// A stand-in for the Returning.AI file ingest on loopback: scripts/fixtures/file-ingest-server.py, run with the
/// `python3` on PATH, parsing each multipart upload with werkzeug (a real form parser, not one written next to the
/// client). It wants `x-api-key: apiKey` (else 401), answers the first uploads with `faults` in order (429 with
/// `Retry-After: 0`), then 200, and records what it accepted.
///
/// Without python3 or werkzeug `start` fails and says what to install: a file ingest test never passes by not
/// running. Stop it with `stop()` (or use `run`); should a test process die first, the server sees its stdin
/// close and exits too.
public final class FileIngestServer: @unchecked Sendable {
    /// One accepted upload as the server parsed it.
    public struct Upload: Sendable, Equatable, Decodable {
        /// The `trigger_id` query parameter, decoded.
        public var triggerID: String
        /// The `metadata` field, parsed as JSON.
        public var metadata: [String: String]
        /// The `metadata` field as sent.
        public var metadataText: String
        /// The `data` file, as UTF-8 text.
        public var csv: String
        /// The `data` file's bytes.
        public var csvBytes: [UInt8]
        /// The `data` part's `Content-Type`.
        public var contentType: String
        /// The `data` part's `filename`, as werkzeug decoded it.
        public var fileName: String
        /// The id the server answered with ("1", "2", …).
        public var id: String

        enum CodingKeys: String, CodingKey {
            case triggerID = "trigger_id", metadata, metadataText = "metadata_text", csv, csvBase64 = "csv_base64"
            case contentType = "content_type", fileName = "file_name", id
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            triggerID = try container.decode(String.self, forKey: .triggerID)
            metadata = try container.decode([String: String].self, forKey: .metadata)
            metadataText = try container.decode(String.self, forKey: .metadataText)
            csv = try container.decode(String.self, forKey: .csv)
            let base64 = try container.decode(String.self, forKey: .csvBase64)
            guard let bytes = Data(base64Encoded: base64) else {
                throw DecodingError.dataCorruptedError(forKey: .csvBase64, in: container, debugDescription: "not base64")
            }
            csvBytes = Array(bytes)
            contentType = try container.decode(String.self, forKey: .contentType)
            fileName = try container.decode(String.self, forKey: .fileName)
            id = try container.decode(String.self, forKey: .id)
        }
    }

    public struct StartFailed: Error, CustomStringConvertible {
        public let description: String
    }

    public let port: Int
    /// The endpoint to configure the client with (it adds `trigger_id`).
    public var url: String { "http://127.0.0.1:\(port)/apis/v1/data-workflows/file-ingests" }
    /// One JSON line per accepted upload.
    public let logFile: URL
    private let folder: URL
    private let requestLogFile: URL
    private let pid: Int32
    private let exit: ProcessExit
    /// Its write end is the server's stdin: open while this object lives.
    private let stdin: Pipe

    private init(port: Int, folder: URL, pid: Int32, exit: ProcessExit, stdin: Pipe) {
        self.port = port
        self.folder = folder
        logFile = folder.appending(path: "uploads.jsonl")
        requestLogFile = folder.appending(path: "requests.log")
        self.pid = pid
        self.exit = exit
        self.stdin = stdin
    }

    /// The script, found from this file's place in the repository.
    public static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: "scripts/fixtures/file-ingest-server.py")

    /// Starts a server and waits (without holding a thread) for the port it prints.
    /// - Parameter delay: the server waits this long before answering each upload (for timeout tests).
    /// - Parameter answerDelay: the server records an accepted upload at once and answers this long after (a client
    ///   killed meanwhile has sent it but not seen it accepted).
    public static func start(apiKey: String, faults: [Int] = [], delay: Duration = .zero, answerDelay: Duration = .zero) async throws -> FileIngestServer {
        guard let python = executableOnPath("python3") else {
            throw StartFailed(description: "python3 is not on PATH (\(ProcessInfo.processInfo.environment["PATH"] ?? "unset")): the file ingest tests run scripts/fixtures/file-ingest-server.py with it; install python3 and werkzeug (pip install 'moto[server]', or scripts/install-deps --with-moto)")
        }
        let folder = FileManager.default.temporaryDirectory.appending(path: "mtsync-file-ingest-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let keyFile = folder.appending(path: "api-key")
        try Data(apiKey.utf8).write(to: keyFile)
        let portFile = folder.appending(path: "stdout")
        let requestLog = folder.appending(path: "requests.log")
        _ = FileManager.default.createFile(atPath: portFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: requestLog.path, contents: nil)

        let process = Process()
        process.executableURL = python
        func milliseconds(_ duration: Duration) -> String {
            String(duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000)
        }
        var arguments = [
            script.path, "--port", "0", "--api-key-file", keyFile.path, "--log", folder.appending(path: "uploads.jsonl").path,
            "--exit-when-stdin-closes",
        ]
        if !faults.isEmpty { arguments += ["--faults", faults.map(String.init).joined(separator: ",")] }
        if delay > .zero { arguments += ["--delay-ms", milliseconds(delay)] }
        if answerDelay > .zero { arguments += ["--answer-delay-ms", milliseconds(answerDelay)] }
        process.arguments = arguments
        // Files, not pipes, for its output: nothing has to drain them, and the port is read by polling.
        let stdout = try FileHandle(forWritingTo: portFile)
        let stderr = try FileHandle(forWritingTo: requestLog)
        defer {
            try? stdout.close()
            try? stderr.close()
        }
        let stdin = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        let exit: ProcessExit
        do {
            exit = try process.runWatched()
        } catch {
            throw StartFailed(description: "could not run \(python.path) \(script.path): \(error)")
        }
        let pid = process.processIdentifier

        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let output = (try? String(contentsOf: portFile, encoding: .utf8)) ?? ""
            if let newline = output.firstIndex(of: "\n") {
                guard let port = Int(output[..<newline]), port > 0 else {
                    kill(pid, SIGKILL)
                    await exit.wait()
                    throw StartFailed(description: "file-ingest-server.py printed \(output.debugDescription) instead of its port")
                }
                return FileIngestServer(port: port, folder: folder, pid: pid, exit: exit, stdin: stdin)
            }
            if let status = exit.status {
                let said = (try? String(contentsOf: requestLog, encoding: .utf8)) ?? ""
                throw StartFailed(description: "file-ingest-server.py exited with status \(status) before listening (python3 is \(python.path); it needs werkzeug: pip install 'moto[server]'): \(said)")
            }
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                await exit.wait()
                throw StartFailed(description: "file-ingest-server.py printed no port within 30 s: \((try? String(contentsOf: requestLog, encoding: .utf8)) ?? "")")
            }
            do {
                try await Task.sleep(for: .milliseconds(20))
            } catch {
                kill(pid, SIGKILL)
                await exit.wait()
                throw error
            }
        }
    }

    /// Starts a server, runs `body` with it and stops it, whether `body` throws or not.
    public static func run<Result>(
        apiKey: String, faults: [Int] = [], delay: Duration = .zero, answerDelay: Duration = .zero, _ body: (FileIngestServer) async throws -> Result
    ) async throws -> Result {
        let server = try await start(apiKey: apiKey, faults: faults, delay: delay, answerDelay: answerDelay)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// The uploads it accepted, in order (GET /uploads).
    public func uploads() async throws -> [Upload] {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/uploads")
        request.method = .GET
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 64 << 20)
        guard response.status == .ok else {
            throw StartFailed(description: "GET /uploads answered \(response.status): \(String(buffer: body))")
        }
        return try JSONDecoder().decode([Upload].self, from: Data(body.readableBytesView))
    }

    /// The server's line per request so far (method, path and query, status, why), for failure messages.
    public func requestLog() -> String {
        (try? String(contentsOf: requestLogFile, encoding: .utf8)) ?? ""
    }

    /// Stops the server (SIGTERM, SIGKILL if it is still there after 5 s; waits without holding a thread) and
    /// removes its files.
    public func stop() async {
        if !exit.hasExited { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + .seconds(5)
        while !exit.hasExited && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if !exit.hasExited { kill(pid, SIGKILL) }
        await exit.wait()
        try? stdin.fileHandleForWriting.close()
        try? FileManager.default.removeItem(at: folder)
    }

    static func executableOnPath(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = URL(fileURLWithPath: String(directory)).appending(path: name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }
}
