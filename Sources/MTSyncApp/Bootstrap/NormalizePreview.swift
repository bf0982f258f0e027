import MTSyncBridge
import MTSyncCore

/// What `mtsync normalize` makes of raw records, line by line, as the daemon would: the normalizer with the server's
/// rules and plausible times, then the account's decision from the rules file's accounts (the only ones known here:
/// a fact of another login is shown and counted as pending, as the store would hold it).
public struct NormalizePreview {
    public enum Line {
        case blank
        case facts([TradingFact])
        case skipped
        case rejected(LineRejection)
    }

    let normalizer: Normalizer
    let policy: AccountPolicy
    let times: PlausibleTimes
    let platform: Platform
    public private(set) var summary = NormalizeSummary()

    public init(settings: ServerSettings, utcNowMilliseconds: Int64) {
        normalizer = Normalizer(settings: settings)
        policy = AccountPolicy(settings: settings)
        platform = settings.platform
        times = settings.plausibleTimes.window(at: settings.plausibleTimes.serverClock(reported: nil, utcNowMilliseconds: utcNowMilliseconds, zone: settings.zone))
    }

    /// Line `number` (1-based) of the input: its facts as shown, or why not.
    public mutating func read(_ line: some Collection<UInt8>, number: Int) -> Line {
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return .blank }
        summary.lines += 1
        let outcome: NormalizationOutcome
        do throws(RecordDecodingError) {
            switch platform {
            case .mt5: outcome = normalizer.normalize(try RawRecordDecoder.mt5Deal(fromLine: line), within: times)
            case .mt4: outcome = normalizer.normalize(try RawRecordDecoder.mt4Trade(fromLine: line), within: times)
            }
        } catch {
            summary.rejected += 1
            return .rejected(LineRejection(line: number, error: "invalid_json", field: nil, value: nil, rule: nil, reason: error.description))
        }
        switch outcome {
        case .facts(let facts):
            var shown = facts
            switch policy.decide(facts, login: facts.first?.login ?? 0, history: nil) {
            case .decided(let decided):
                shown = decided.filter { $0.excludedReason == nil }
                for fact in decided { if let reason = fact.excludedReason { summary.skipped[reason.rawValue, default: 0] += 1 } }
            case .pending(let reason):
                summary.pending[reason.rawValue, default: 0] += facts.count
            }
            for fact in shown { summary.count(fact) }
            return .facts(shown)
        case .skipped(let reason):
            summary.skipped[reason.rawValue, default: 0] += 1
            return .skipped
        case .rejected(let rejection):
            summary.rejected += 1
            return .rejected(LineRejection(line: number, error: "rejected", field: rejection.field, value: rejection.value, rule: rejection.code, reason: rejection.description))
        }
    }
}

public struct LineRejection: Encodable, Sendable {
    public let line: Int
    public let error: String
    public let field: String?
    public let value: String?
    public let rule: String?
    public let reason: String
}

public struct NormalizeSummary: Encodable, Sendable {
    public var lines = 0
    public var facts = 0
    public var rejected = 0
    public var skipped: [String: Int] = [:]
    /// Facts whose account the rules file does not name: the store would hold them until the bridge sends it.
    public var pending: [String: Int] = [:]
    public var kinds: [String: Int] = [:]
    public var technical = 0
    /// Action (MT5) or cmd (MT4) codes mtsync does not know yet: facts of kind `other`, counted so they are seen.
    public var unknownActions: [String: Int] = [:]

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
