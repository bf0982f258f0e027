import Foundation
import Logging
import MTSyncApp
import Testing

@Suite("Log lines: logfmt and JSON, one line per event, levels per subsystem, secrets redacted")
struct LogLineHandlerTests {
    static let awkward: [String] = [
        "plain", "two words", "", "quote \" inside", "back\\slash", "new\nline", "carriage\rreturn", "tab\there", "equals=sign",
        "bell\u{7}", "ünïcödé ✓ 東京",
    ]

    @Test("a logfmt line is one line: bare values stay bare, anything else is quoted with escapes", arguments: awkward)
    func logfmtOneLine(value: String) {
        let line = LogLineHandler.line(format: .logfmt, timestamp: "2026-11-26T10:00:00.123Z", level: .info, subsystem: "sync", message: value, fields: [("server", value)])
        #expect(line.hasSuffix("\n"))
        #expect(line.dropLast().allSatisfy { $0 != "\n" && $0 != "\r" }, "\(line.debugDescription)")
        #expect(line.hasPrefix("ts=2026-11-26T10:00:00.123Z level=info subsystem=sync msg="))
        let bare = !value.isEmpty && value.unicodeScalars.allSatisfy { !$0.properties.isWhitespace && $0 != "=" && $0 != "\"" && $0 != "\\" && $0.value >= 0x20 }
        #expect(line.contains(" server=\(bare ? value : "\"")"), "\(line.debugDescription)")
    }

    @Test("logfmt examples", arguments: [
        ("page stored", [("records", "5000"), ("cursor", "(1735717755175 ms, ticket 205895000099)")],
         #"ts=T level=info subsystem=sync msg="page stored" records=5000 cursor="(1735717755175 ms, ticket 205895000099)""# + "\n"),
        ("x", [("error", "said \"no\"\nthen quit")], #"ts=T level=info subsystem=sync msg=x error="said \"no\"\nthen quit""# + "\n"),
        ("x", [("odd key", "1"), ("ts", "forged"), ("msg", "forged")], "ts=T level=info subsystem=sync msg=x odd_key=1\n"),
    ])
    func logfmtExamples(message: String, fields: [(String, String)], expected: String) {
        #expect(LogLineHandler.line(format: .logfmt, timestamp: "T", level: .info, subsystem: "sync", message: message, fields: fields) == expected)
    }

    @Test("a JSON line is one object that parses back to the same keys and values", arguments: awkward)
    func jsonRoundTrip(value: String) throws {
        let line = LogLineHandler.line(format: .json, timestamp: "2026-11-26T10:00:00.123Z", level: .warning, subsystem: "relay", message: value, fields: [("reason", value), ("sink", "sqs")])
        #expect(line.hasSuffix("}\n"))
        #expect(line.dropLast().allSatisfy { $0 != "\n" && $0 != "\r" })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object == ["ts": "2026-11-26T10:00:00.123Z", "level": "warning", "subsystem": "relay", "msg": value, "reason": value, "sink": "sqs"])
    }

    @Test("a logger's label names its subsystem", arguments: [("mtsync.sync", "sync"), ("mtsync.relay", "relay"), ("mtsync", "main"), ("Hummingbird", "Hummingbird")])
    func subsystems(label: String, subsystem: String) {
        #expect(LogLineHandler.subsystem(ofLabel: label) == subsystem)
    }

    @Test("each subsystem logs at its own level; the default covers the rest")
    func levelsPerSubsystem() throws {
        let lines = try Self.capture(format: .logfmt, levels: LogLevels(default: .warning, subsystems: ["sync": .debug]), secrets: []) { factory in
            Logger(label: "mtsync.sync", factory: factory).debug("sync detail")
            Logger(label: "mtsync.relay", factory: factory).info("relay chatter")
            Logger(label: "mtsync.relay", factory: factory).warning("relay trouble")
        }
        #expect(lines.count == 2)
        #expect(lines[0].contains("level=debug subsystem=sync msg=\"sync detail\""))
        #expect(lines[1].contains("level=warning subsystem=relay msg=\"relay trouble\""))
    }

    @Test("a configured secret never reaches the line: not in the message, not in metadata, not nested", arguments: LogFormat.allCases)
    func redaction(format: LogFormat) throws {
        let secret = "s3cr3t-hmac-key-0123456789"
        let password = "pg-P@ss:word"
        let lines = try Self.capture(format: format, levels: LogLevels(default: .trace), secrets: [secret, password, "abc"]) { factory in
            var logger = Logger(label: "mtsync.relay", factory: factory)
            logger[metadataKey: "context"] = "key=\(secret)"
            logger.error("the ingest answered 401 for \(secret)", metadata: [
                "url": "postgresql://mtsync:\(password)@db/mtsync", "nested": .dictionary(["deep": .array([.string(secret)])]),
            ])
            logger.info("abc is too short to be a secret")
        }
        let text = lines.joined()
        #expect(!text.contains(secret))
        #expect(!text.contains(password))
        // Message, context, nested and url of the first line, and the logger's context again on the second.
        #expect(text.components(separatedBy: SecretRedactor.replacement).count - 1 == 5, "\(text)")
        #expect(text.contains("abc is too short"))
    }

    @Test("the longer of two overlapping secrets is replaced whole")
    func overlappingSecrets() {
        let redactor = SecretRedactor(secrets: ["token-123456", "token-123456-and-more"])
        #expect(redactor.redact("a token-123456-and-more b token-123456 c") == "a [REDACTED] b [REDACTED] c")
    }

    /// Runs `body` with a handler factory writing to a temporary file, and returns the lines written.
    static func capture(format: LogFormat, levels: LogLevels, secrets: [String], _ body: (@escaping @Sendable (String) -> any LogHandler) -> Void) throws -> [String] {
        let file = FileManager.default.temporaryDirectory.appending(path: "log-\(UUID().uuidString).txt")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: file) }
        let handle = try FileHandle(forWritingTo: file)
        let output = LogOutput(descriptor: handle.fileDescriptor)
        let redactor = SecretRedactor(secrets: secrets)
        body { label in LogLineHandler(label: label, format: format, levels: levels, redactor: redactor, output: output) }
        try handle.close()
        let text = try String(contentsOf: file, encoding: .utf8)
        return text.split(separator: "\n", omittingEmptySubsequences: true).map { String($0) + "\n" }
    }
}
