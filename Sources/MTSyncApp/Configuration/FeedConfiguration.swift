import Foundation
import MTSyncCore
import MTSyncStore
import MTSyncIngest
import MTSyncEngine
import Yams

/// The loyalty platform's daily feed (`feed:` in the file; docs/configuration.md and docs/ingest.md,
/// "The daily feed"): rows per customer and trading day, upserted by the platform by `user_id` + `date`.
public struct FeedConfiguration: Sendable, Equatable {
    /// What the feed's builder decides with, the engine's own settings value: `trigger_id` and `source` (its
    /// envelope), `day`, `reporting_currency`, `cent`, `rates`, `deposits`, `max_rows_per_message`,
    /// `max_message_bytes`, and `file_ingest`'s `above_rows` and `max_rows`. The tier snapshots' settings are added
    /// where the servers' account policies are known (`IngestSinks.feedSettings`).
    public var settings: DailyFeedSettings
    /// The queue for messages: `feed.sqs`, else `ingest.sqs`'s.
    public var sqs: SQSDestination
    public var fileIngest: FileIngestDestination?
    /// How often the daemon decides changed rows and sends them.
    public var every: Duration
    /// How often the daemon re-reads each bridge's accounts (customer ids, groups, currencies).
    public var accountsEvery: Duration
    /// How long a batch being sent is claimed: after a crash mid-send, the same batch goes again after this.
    public var claimFor: Duration = .seconds(120)
    /// The tier snapshots (`feed.snapshots`; docs/ingest.md, "Tier snapshots"); nil: off.
    public var snapshots: SnapshotFeedConfiguration?

    public init(settings: DailyFeedSettings, sqs: SQSDestination, fileIngest: FileIngestDestination? = nil, every: Duration = .seconds(60), accountsEvery: Duration = .seconds(900)) {
        self.settings = settings
        self.sqs = sqs
        self.fileIngest = fileIngest
        self.every = every
        self.accountsEvery = accountsEvery
    }

    /// The platform's id for this integration, sent in every batch.
    public var triggerID: String { settings.envelope.triggerID }
}

/// The platform's file ingest: `POST <url>?trigger_id=…` with `x-api-key` and a CSV.
/// `feed.snapshots`: the platform's trigger id for tier snapshots (its own, not the daily rows') and their source
/// name; they travel on the feed's queue and file ingest, under the feed's currency, cent and day rules.
public struct SnapshotFeedConfiguration: Sendable, Equatable {
    public var triggerID: String
    public var source: String

    public init(triggerID: String, source: String) {
        self.triggerID = triggerID
        self.source = source
    }
}

public struct FileIngestDestination: Sendable, Equatable {
    public var url: String
    public var apiKey: TextSecret
    /// A pass with more changed rows than this sends them as uploads instead of messages.
    public var aboveRows: Int
    public var maximumRowsPerFile: Int
    public var timeout: Duration

    public init(url: String, apiKey: TextSecret, aboveRows: Int = 2_000, maximumRowsPerFile: Int = DailyFeedSettings.defaultMaximumRowsPerFile, timeout: Duration = .seconds(60)) {
        self.url = url
        self.apiKey = apiKey
        self.aboveRows = aboveRows
        self.maximumRowsPerFile = maximumRowsPerFile
        self.timeout = timeout
    }
}

extension ConfigurationReader {
    static let feedKeys = [
        "trigger_id", "source", "day", "reporting_currency", "cent", "rates", "deposits", "sqs", "file_ingest",
        "max_rows_per_message", "max_message_bytes", "every", "accounts_every", "claim_for", "snapshots",
    ]
    static let snapshotKeys = ["trigger_id", "source"]
    static func isCurrencyCode(_ text: String) -> Bool { text.count == 3 && text.allSatisfy { $0.isASCII && $0.isLetter } }
    static let feedCentKeys = ["groups", "factor", "currencies"]
    static let feedDepositKeys = ["kinds", "exclude_comments"]
    static let feedDayKeys = ["zone", "starts_at"]
    static let fileIngestKeys = ["url", "api_key_env", "api_key_file", "above_rows", "max_rows", "timeout", plainHTTPKey]

    /// The outer optional is nil on a problem; the inner is nil when there is no `feed`.
    mutating func readFeed(_ top: Mapping, ingest: IngestConfiguration?) -> FeedConfiguration?? {
        guard let node = top["feed"], !node.isNull else { return .some(nil) }
        guard let section = mapping(node, path: "feed", keys: Self.feedKeys) else { return nil }
        let problemsBefore = problems.count
        let trigger = required(section, "trigger_id", hint: "the platform's fixed id for this integration (it gives it to the broker), e.g. 65f0c1e2a9b8c7d6e5f4a3b2")?.0
        let source = scalar(section, "source")?.0 ?? "mtsync"
        let day = readTradingDay(section)
        var currency = "USD"
        if let (text, mark) = scalar(section, "reporting_currency") {
            if Self.isCurrencyCode(text) { currency = text.uppercased() } else {
                report("feed.reporting_currency", mark, "must be a three-letter currency code such as USD, not \(String(reflecting: text))")
            }
        }
        var centGroups: [String] = [], centFactor = ExactDecimal(1, scale: 2)!, centCurrencies = CentCurrencies.standard
        if let node = section["cent"], !node.isNull, let cent = mapping(node, path: "feed.cent", keys: Self.feedCentKeys) {
            centGroups = stringList(cent, "groups") ?? []
            if let (text, mark) = scalar(cent, "factor") {
                if let value = ExactDecimal(parsing: text), !value.isNegative, !value.isZero { centFactor = value } else {
                    report("feed.cent.factor", mark, "must be a positive decimal such as 0.01 (one cent lot is 0.01 standard lots), not \(String(reflecting: text))")
                }
            }
            if let node = cent["currencies"], !node.isNull {
                if case .mapping(let map) = node {
                    centCurrencies = [:]
                    for (key, value) in map {
                        let code = key.scalar?.string ?? "?"
                        guard Self.isCurrencyCode(code), let base = value.scalar?.string, Self.isCurrencyCode(base) else {
                            report("feed.cent.currencies.\(code)", value.mark, "must map a cent currency code to its base currency, e.g. USC: USD")
                            continue
                        }
                        centCurrencies[code.uppercased()] = base.uppercased()
                    }
                } else {
                    report("feed.cent.currencies", node.mark, "must be a mapping of cent currency codes to base currencies, e.g. {USC: USD, EUC: EUR}")
                }
            }
        }
        var rates: [String: ExactDecimal] = [:]
        if let node = section["rates"], !node.isNull {
            if case .mapping(let map) = node {
                for (key, value) in map {
                    let code = key.scalar?.string ?? "?"
                    guard code.count == 3, let text = value.scalar?.string, let rate = ExactDecimal(parsing: text), !rate.isNegative, !rate.isZero else {
                        report("feed.rates.\(code)", value.mark, "must map a three-letter currency to a positive decimal rate (units of the reporting currency per unit), e.g. EUR: \"1.08\"")
                        continue
                    }
                    rates[code.uppercased()] = rate
                }
            } else {
                report("feed.rates", node.mark, "must be a mapping of currency codes to rates, e.g. {EUR: \"1.08\"}")
            }
        }
        var depositKinds = ["balance"], excludedComments: [String] = []
        if let node = section["deposits"], !node.isNull, let deposits = mapping(node, path: "feed.deposits", keys: Self.feedDepositKeys) {
            if let kinds = stringList(deposits, "kinds") {
                let allowed = ["balance", "credit", "bonus", "correction"]
                if let bad = kinds.first(where: { !allowed.contains($0) }) {
                    report("feed.deposits.kinds", deposits["kinds"]?.mark, "\(String(reflecting: bad)) is not a kind that can count as a deposit; use some of \(allowed.joined(separator: ", "))")
                } else if kinds.isEmpty {
                    report("feed.deposits.kinds", deposits["kinds"]?.mark, "must name at least one kind (balance is the default)")
                } else {
                    depositKinds = kinds
                }
            }
            excludedComments = stringList(deposits, "exclude_comments") ?? []
        }
        var sqs: SQSDestination?
        if let node = section["sqs"], !node.isNull {
            sqs = readSQS(node, path: "feed.sqs")
            // An output inherits the ingest's endpoint, region and profile unless it sets its own: a feed queue on a
            // local SQS must not go to real AWS because its section named only the queue.
            if case .sqs(let ingestSQS)? = ingest?.destination, var own = sqs {
                own.inherit(from: ingestSQS)
                sqs = own
            }
        } else if case .sqs(let destination)? = ingest?.destination {
            sqs = destination
        } else {
            report("feed.sqs", section.mark, "the feed needs an SQS queue: give feed.sqs (queue_url, …) or an ingest.sqs to share")
        }
        var fileIngest: FileIngestDestination?
        if let node = section["file_ingest"], !node.isNull {
            fileIngest = readFileIngest(node)
        }
        let rows = section["max_rows_per_message"] != nil ? wholeNumber(section, "max_rows_per_message", in: 1...10_000) : DailyFeedSettings.defaultMaximumRowsPerMessage
        let bytes = section["max_message_bytes"] != nil ? wholeNumber(section, "max_message_bytes", in: 1_024...262_144) : DailyFeedSettings.defaultMaximumMessageBytes
        let every = section["every"] != nil ? duration(section, "every", minimum: .seconds(1)) : .seconds(60)
        let accountsEvery = section["accounts_every"] != nil ? duration(section, "accounts_every", minimum: .seconds(10)) : .seconds(900)
        let claimFor = section["claim_for"] != nil ? duration(section, "claim_for", minimum: .seconds(1)) : .seconds(120)
        var snapshots: SnapshotFeedConfiguration?
        if let node = section["snapshots"], !node.isNull, let snapshotSection = mapping(node, path: "feed.snapshots", keys: Self.snapshotKeys) {
            if let (snapshotTrigger, mark) = required(snapshotSection, "trigger_id", hint: "the platform's trigger id for tier snapshots (its own, not the daily rows')") {
                if snapshotTrigger == trigger {
                    report("feed.snapshots.trigger_id", mark, "must differ from feed.trigger_id: the platform tells the snapshots from the daily rows by it")
                } else {
                    snapshots = SnapshotFeedConfiguration(triggerID: snapshotTrigger, source: scalar(snapshotSection, "source")?.0 ?? source)
                }
            }
        }
        guard problems.count == problemsBefore, let trigger, let day, let sqs, let rows, let bytes, let every, let accountsEvery, let claimFor else { return nil }
        let settings = DailyFeedSettings(
            rules: DailyFeedRules(reportingCurrency: currency, centGroups: centGroups, centFactor: centFactor, centCurrencies: centCurrencies, rates: rates),
            envelope: DailyFeedEnvelope(triggerID: trigger, source: source), day: day,
            deposits: DailyFeedStore.DepositRule(kinds: depositKinds, excludedComments: excludedComments),
            maximumRowsPerMessage: rows, maximumMessageBytes: bytes,
            fileAboveRows: fileIngest?.aboveRows, maximumRowsPerFile: fileIngest?.maximumRowsPerFile ?? DailyFeedSettings.defaultMaximumRowsPerFile)
        var feed = FeedConfiguration(settings: settings, sqs: sqs, fileIngest: fileIngest, every: every, accountsEvery: accountsEvery)
        feed.claimFor = claimFor
        feed.snapshots = snapshots
        return feed
    }

    /// `utc` (default), `ny-close`, an IANA zone name (days from local midnight), or `{zone, starts_at: "HH:MM"}`.
    private mutating func readTradingDay(_ section: Mapping) -> TradingDayRule? {
        guard let node = section["day"], !node.isNull else { return .utc }
        var zone: String, start = 0
        var mark = node.mark
        if case .scalar(let value) = node {
            switch value.string.lowercased() {
            case "utc": return .utc
            case "ny-close": return .nyClose
            default: zone = value.string
            }
        } else {
            guard let map = mapping(node, path: "feed.day", keys: Self.feedDayKeys) else { return nil }
            guard let (text, zoneMark) = required(map, "zone", hint: "an IANA zone such as America/New_York or UTC") else { return nil }
            zone = text
            mark = zoneMark
            if let (text, startMark) = scalar(map, "starts_at") {
                let parts = text.split(separator: ":")
                guard parts.count == 2, let hours = Int(parts[0]), let minutes = Int(parts[1]), (0..<24).contains(hours), (0..<60).contains(minutes) else {
                    report("feed.day.starts_at", startMark, "must be a local time HH:MM such as 17:00 (the day starting at 17:00 is named after the next date), not \(String(reflecting: text))")
                    return nil
                }
                start = hours * 60 + minutes
            }
        }
        guard TimeZone(identifier: zone) != nil else {
            report("feed.day", mark, "\(String(reflecting: zone)) is not a time zone: use utc, ny-close, an IANA zone such as Europe/Nicosia, or {zone: …, starts_at: \"17:00\"}")
            return nil
        }
        return TradingDayRule(zone: zone, startMinutes: start)
    }

    private mutating func readFileIngest(_ node: Node) -> FileIngestDestination? {
        guard let section = mapping(node, path: "feed.file_ingest", keys: Self.fileIngestKeys) else { return nil }
        var url: String?
        if let (text, mark) = required(section, "url", hint: "the platform's file ingest, e.g. https://data-workflow.returning.ai/apis/v1/data-workflows/file-ingests") {
            if let parsed = URL(string: text), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil {
                if plainHTTPAllowed(parsed, in: section, key: "url", mark: mark) { url = text }
            } else {
                report("feed.file_ingest.url", mark, "must be an http(s) URL, not \(String(reflecting: text))")
            }
        }
        let key = readTextSecret(section, name: "api_key", what: "the platform's API key (sent as x-api-key)", required: true).flatMap { $0 }
        let above = section["above_rows"] != nil ? wholeNumber(section, "above_rows", in: 1...1_000_000) : 2_000
        let maximum = section["max_rows"] != nil ? wholeNumber(section, "max_rows", in: 1...1_000_000) : 10_000
        let timeout = section["timeout"] != nil ? duration(section, "timeout", minimum: .seconds(1)) : .seconds(60)
        guard let url, let key, let above, let maximum, let timeout else { return nil }
        return FileIngestDestination(url: url, apiKey: key, aboveRows: above, maximumRowsPerFile: maximum, timeout: timeout)
    }

    /// A list of strings, or one string; nil when absent.
    private mutating func stringList(_ map: Mapping, _ key: String) -> [String]? {
        guard let node = map[key], !node.isNull else { return nil }
        switch node {
        case .scalar(let value): return [value.string]
        case .sequence(let items):
            var result: [String] = []
            for item in items {
                guard let text = item.scalar?.string else {
                    report(map.child(key), item.mark, "must be a list of texts")
                    return nil
                }
                result.append(text)
            }
            return result
        default:
            report(map.child(key), node.mark, "must be a list of texts")
            return nil
        }
    }
}
