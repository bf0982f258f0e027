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
        let normalizer = Normalizer(settings: settings)
        // The window the daemon would apply now, from this machine's clock in the server's zone (no bridge here).
        let times = settings.plausibleTimes.window(at: settings.plausibleTimes.serverClock(
            reported: nil, utcNowMilliseconds: Int64(Date().timeIntervalSince1970 * 1000), zone: settings.zone))
        let policy = AccountPolicy(settings: settings)

        let output = LineWriter(handle: .standardOutput)
        let errors = LineWriter(handle: .standardError)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var summary = NormalizeSummary()

        for (index, line) in LineReader(handle: .standardInput).enumerated() {
            let lineNumber = index + 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            summary.lines += 1
            let outcome: NormalizationOutcome
            do {
                switch platform {
                case .mt5: outcome = normalizer.normalize(try RawRecordDecoder.mt5Deal(fromLine: line), within: times)
                case .mt4: outcome = normalizer.normalize(try RawRecordDecoder.mt4Trade(fromLine: line), within: times)
                }
            } catch {
                summary.rejected += 1
                errors.write(try encoder.encode(LineRejection(line: lineNumber, error: "invalid_json", field: nil, value: nil, rule: nil, reason: error.description)))
                continue
            }
            switch outcome {
            case .facts(let facts):
                // The account decides, as in the store: here only the rules file's accounts are known, so a fact of
                // another login is shown as normalized and counted as pending (the store would hold it).
                var shown = facts
                switch policy.decide(facts, login: facts.first?.login ?? 0, history: nil) {
                case .decided(let decided):
                    shown = decided.filter { $0.excludedReason == nil }
                    for fact in decided { if let reason = fact.excludedReason { summary.skipped[reason.rawValue, default: 0] += 1 } }
                case .pending(let reason):
                    summary.pending[reason.rawValue, default: 0] += facts.count
                }
                for fact in shown {
                    summary.count(fact)
                    output.write(try encoder.encode(fact))
                }
            case .skipped(let reason):
                summary.skipped[reason.rawValue, default: 0] += 1
            case .rejected(let rejection):
                summary.rejected += 1
                errors.write(try encoder.encode(LineRejection(line: lineNumber, error: "rejected", field: rejection.field, value: rejection.value, rule: rejection.code, reason: rejection.description)))
            }
        }
        errors.write(try encoder.encode(["summary": summary]))
        output.flush()
        errors.flush()
        if summary.rejected > 0 { throw ExitCode(CommandFailure.Status.dataError.rawValue) }
    }
}

extension Platform: ExpressibleByArgument {}
extension ServerTimeZone.AmbiguousTimePolicy: ExpressibleByArgument {}

struct LineRejection: Encodable {
    let line: Int
    let error: String
    let field: String?
    let value: String?
    let rule: String?
    let reason: String
}

struct NormalizeSummary: Encodable {
    var lines = 0
    var facts = 0
    var rejected = 0
    var skipped: [String: Int] = [:]
    /// Facts whose account the rules file does not name: the store would hold them until the bridge sends it.
    var pending: [String: Int] = [:]
    var kinds: [String: Int] = [:]
    var technical = 0
    /// Action (MT5) or cmd (MT4) codes mtsync does not know yet: facts of kind `other`, counted so they are seen.
    var unknownActions: [String: Int] = [:]

    mutating func count(_ fact: TradingFact) {
        facts += 1
        kinds[fact.kind.rawValue, default: 0] += 1
        if fact.technical { technical += 1 }
        if fact.kind == .other { unknownActions[String(fact.rawAction), default: 0] += 1 }
    }

    enum CodingKeys: String, CodingKey {
        case lines, facts, rejected, skipped, pending, kinds, technical
        case unknownActions = "unknown_actions"
    }
}

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
