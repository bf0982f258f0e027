import ArgumentParser
import Foundation
import MTSyncBridge
import MTSyncApp
import MTSyncCore

struct NormalizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "normalize",
        abstract: "Show what mtsync makes of raw MetaTrader records (one JSON object per line on stdin).",
        discussion: """
            Each fact goes to stdout as one JSON line. Each rejected line goes to stderr as one JSON line \
            {"line": N, "error": …, "field": …, "value": …, "rule": …}; a last stderr line {"summary": …} counts \
            facts by kind, facts the rules file's filters exclude (skipped) by reason, facts whose account the rules \
            file does not name (pending: the store would hold them until the bridge sends the account) and unknown \
            action codes. Exit 0 when every line was \
            normalized or skipped, 65 when any was rejected, 64 for a bad option, 78 for a bad rules file.
            """
    )

    @Option(help: "mt5 (deals, MT5 Manager API field names) or mt4 (trade records, MT4 TradeRecord names).")
    var platform: Platform

    @Option(help: "The server id facts are keyed by (letters, digits, '_', '.', '-').")
    var server: String

    @Option(help: "Server time zone: an IANA name (Europe/Athens), a fixed offset (+02:00) or ny-close (New York + 7 h).")
    var zone: String

    @Option(help: "JSON file with symbol rules, group and login filters, accounts and the ambiguous-time policy.")
    var rules: String?

    @Option(help: "Which instant a repeated (fall-back) wall time means: earlier or later. Overrides the rules file.")
    var ambiguousTime: ServerTimeZone.AmbiguousTimePolicy?

    @Option(help: "Records stamped before this server-time date (YYYY-MM-DD) are rejected, as the daemon quarantines them (plausible_times.earliest).")
    var earliest: String = "2000-01-01"

    @Option(help: "Records stamped more than this past now in the server's zone are rejected (plausible_times.ahead), e.g. 1d, 12h.")
    var ahead: String = "1d"

    func validate() throws {
        guard ServerID.isValid(server) else { throw ValidationError("--server \(String(reflecting: server)) is not a valid server id") }
        guard ServerTimeZone(zone) != nil else {
            throw ValidationError("--zone \(String(reflecting: zone)) is not an IANA zone name, a fixed offset like +02:00, or ny-close")
        }
        guard plausibleTimeRule != nil else {
            throw ValidationError("--earliest must be a date YYYY-MM-DD from 1970 on and --ahead a duration of at least 1m such as 1d or 12h")
        }
    }

    /// The daemon's `plausible_times`, from `--earliest` and `--ahead`.
    var plausibleTimeRule: PlausibleTimeRule? {
        guard let days = CivilDate.days(parsing: earliest), days >= 0, let ahead = DurationText.parse(ahead), ahead >= .seconds(60) else { return nil }
        return PlausibleTimeRule(earliestServerMilliseconds: days * 86_400_000, ahead: ahead)
    }

    func run() throws {
        var settings = ServerSettings(server: try ServerID(server), platform: platform, zone: ServerTimeZone(zone)!)
        if let rules {
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: rules))
                try JSONDecoder().decode(NormalizationRules.self, from: data).apply(to: &settings)
            } catch {
                FileHandle.standardError.write(Data("mtsync: error: rules file \(rules): \(error)\n".utf8))
                throw ExitCode(CommandFailure.Status.configuration.rawValue)
            }
        }
        if let ambiguousTime { settings.ambiguousTime = ambiguousTime }
        settings.plausibleTimes = plausibleTimeRule ?? .standard
        // The window the daemon would apply now, from this machine's clock in the server's zone (no bridge here).
        var preview = NormalizePreview(settings: settings, utcNowMilliseconds: Int64(Date().timeIntervalSince1970 * 1000))
        let output = LineWriter(handle: .standardOutput)
        let errors = LineWriter(handle: .standardError)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for (index, line) in LineReader(handle: .standardInput).enumerated() {
            switch preview.read(line, number: index + 1) {
            case .facts(let facts): for fact in facts { output.write(try encoder.encode(fact)) }
            case .rejected(let rejection): errors.write(try encoder.encode(rejection))
            case .blank, .skipped: continue
            }
        }
        let summary = preview.summary
        errors.write(try encoder.encode(["summary": summary]))
        output.flush()
        errors.flush()
        if summary.rejected > 0 { throw ExitCode(CommandFailure.Status.dataError.rawValue) }
    }
}

extension Platform: ExpressibleByArgument {}
extension ServerTimeZone.AmbiguousTimePolicy: ExpressibleByArgument {}

/// Reads a file handle as lines of bytes (without `\n` or a trailing `\r`), in 64 KiB chunks.
struct LineReader: Sequence, IteratorProtocol {
    let handle: FileHandle
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    init(handle: FileHandle) { self.handle = handle }

    mutating func next() -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                var end = newline
                if end > start, buffer[end - 1] == 0x0D { end -= 1 }
                let line = buffer[start..<end]
                start = newline + 1
                return line
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                var end = buffer.count
                if buffer[end - 1] == 0x0D { end -= 1 }
                let line = buffer[start..<end]
                start = buffer.count
                return line
            }
            buffer.removeFirst(start)
            start = 0
            let chunk = handle.readData(ofLength: 1 << 16)
            if chunk.isEmpty { atEnd = true } else { buffer.append(contentsOf: chunk) }
        }
    }
}

/// Buffers lines and writes them in large chunks (one write per line would dominate the run time).
final class LineWriter {
    private let handle: FileHandle
    private var buffer = Data()

    init(handle: FileHandle) { self.handle = handle }

    func write(_ line: Data) {
        buffer.append(line)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flush() }
    }

    func flush() {
        guard !buffer.isEmpty else { return }
        handle.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
