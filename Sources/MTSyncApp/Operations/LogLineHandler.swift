#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import MTSyncCore
import Synchronization

/// How log lines look: `logfmt` for people at a terminal, `json` (one object per line) for log shippers.
public enum LogFormat: String, Sendable, CaseIterable {
    case logfmt, json
}

/// Which lines are written: a default level and one per subsystem (the part of the logger's label after
/// `mtsync.`: sync, relay, feed, accounts, aggregates, operations, lifecycle).
public struct LogLevels: Sendable, Hashable {
    public var `default`: Logger.Level
    public var subsystems: [String: Logger.Level]

    public init(default: Logger.Level = .info, subsystems: [String: Logger.Level] = [:]) {
        self.default = `default`
        self.subsystems = subsystems
    }

    public func level(forSubsystem subsystem: String) -> Logger.Level {
        subsystems[subsystem] ?? self.default
    }
}

/// mtsync's swift-log backend: one line per event, in `LogFormat`, on standard error (which systemd's journal and
/// container runtimes collect), every configured secret replaced by `[REDACTED]` in the message and every
/// metadata value.
///
/// Line shape (logfmt): `ts=2026-11-26T10:00:00.123Z level=info subsystem=sync msg="page stored" server=mt5-live …`;
/// JSON has the same keys. Metadata keys are sorted, so lines of one kind line up and diff well.
public struct LogLineHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public let subsystem: String
    let format: LogFormat
    var redactor: SecretRedactor
    let output: LogOutput

    public init(label: String, format: LogFormat, levels: LogLevels, redactor: SecretRedactor, output: LogOutput = .standardError) {
        self.subsystem = Self.subsystem(ofLabel: label)
        self.logLevel = levels.level(forSubsystem: subsystem)
        self.format = format
        self.redactor = redactor
        self.output = output
    }

    /// `mtsync.sync` → `sync`; `mtsync` → `main`; another library's label stays as it is.
    public static func subsystem(ofLabel label: String) -> String {
        if label == "mtsync" { return "main" }
        if label.hasPrefix("mtsync.") { return String(label.dropFirst("mtsync.".count)) }
        return label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line = Self.line(
            format: format, timestamp: Self.timestamp(), level: event.level, subsystem: subsystem,
            message: redactor.redact(event.message.description),
            fields: merged.sorted { $0.key < $1.key }.map { ($0.key, redactor.redact(Self.flatten($0.value))) })
        output.write(line)
    }

    // MARK: Formatting (pure, tested directly)

    public static func line(format: LogFormat, timestamp: String, level: Logger.Level, subsystem: String, message: String, fields: [(String, String)]) -> String {
        switch format {
        case .logfmt:
            var line = "ts=\(timestamp) level=\(level.rawValue) subsystem=\(logfmtValue(subsystem)) msg=\(logfmtValue(message))"
            for (key, value) in fields where !reserved.contains(key) {
                line += " \(logfmtKey(key))=\(logfmtValue(value))"
            }
            return line + "\n"
        case .json:
            var line = #"{"ts":"# + JSONText.quoted(timestamp) + #","level":"# + JSONText.quoted(level.rawValue)
                + #","subsystem":"# + JSONText.quoted(subsystem) + #","msg":"# + JSONText.quoted(message)
            for (key, value) in fields where !reserved.contains(key) {
                line += "," + JSONText.quoted(key) + ":" + JSONText.quoted(value)
            }
            return line + "}\n"
        }
    }

    /// The keys every line has; metadata under the same name would make a line ambiguous, so it is left out.
    static let reserved: Set<String> = ["ts", "level", "subsystem", "msg"]

    /// A metadata value as one string: arrays and dictionaries as compact JSON-ish text, never across lines.
    static func flatten(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): "[" + values.map(flatten).joined(separator: ",") + "]"
        case .dictionary(let values): "{" + values.sorted { $0.key < $1.key }.map { "\($0.key)=\(flatten($0.value))" }.joined(separator: ",") + "}"
        }
    }

    /// logfmt keys are bare words: anything else becomes `_`.
    static func logfmtKey(_ key: String) -> String {
        let cleaned = String(key.unicodeScalars.map { scalar -> Character in
            scalar.properties.isWhitespace || scalar == "=" || scalar == "\"" || scalar.value < 0x20 ? "_" : Character(scalar)
        })
        return cleaned.isEmpty ? "_" : cleaned
    }

    /// Bare when it can be, else quoted with `\"`, `\\`, `\n`, `\r`, `\t` escaped, so one event is one line.
    static func logfmtValue(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { $0.properties.isWhitespace || $0 == "=" || $0 == "\"" || $0 == "\\" || $0.value < 0x20 }
        guard needsQuotes else { return value }
        var quoted = "\""
        JSONText.appendEscaped(value, to: &quoted)
        return quoted + "\""
    }

    /// Now, UTC, milliseconds: `2026-11-26T10:00:00.123Z`. Without Foundation's formatters, which cost more than
    /// the rest of the line.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let milliseconds = Int(now.tv_nsec / 1_000_000)
        let fraction = milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)Z"
    }
}

/// Where lines go: one `write(2)` per line under a lock, so lines from concurrent tasks never interleave.
public final class LogOutput: Sendable {
    let descriptor: Int32
    let lock = Mutex(())

    public init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    public static let standardError = LogOutput(descriptor: 2)

    func write(_ line: String) {
        var bytes = Array(line.utf8)
        lock.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeMutableBytes { buffer in
                    #if canImport(Glibc)
                    Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    #else
                    Darwin.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    #endif
                }
                if written < 0 {
                    if errno == EINTR { continue }
                    return  // Nowhere to report a failure to write the log; dropping the line beats crashing.
                }
                offset += written
            }
        }
        bytes.removeAll()
    }
}
