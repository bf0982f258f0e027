import Foundation
import MTSyncCore
import MTSyncEngine
import Yams

/// `defaults` and `servers`: the polling settings each server inherits, and each server's own section.
extension ConfigurationReader {
    struct ServerTuning {
        var pollInterval: Duration
        var pollJitter: Double
        var reconcileEvery: Duration?
        var reconcileWindow: Duration
        /// Which record times are stored (`plausible_times`); a record outside is quarantined.
        var plausibleTimes = PlausibleTimeRule.standard
        /// What the server's sync itself reads (lookback, page size, the reference data's intervals): the engine's
        /// own settings value, its defaults the engine's.
        var sync = ServerSyncSettings(startMilliseconds: 0)
        /// Whether `accounts_every` was set here or inherited from `defaults`; if not, the older
        /// `feed.accounts_every` applies.
        var accountsEverySet = false

        static let builtIn = ServerTuning(pollInterval: .seconds(10), pollJitter: 0.1, reconcileEvery: .seconds(24 * 3600), reconcileWindow: .seconds(3 * 86_400))
        static let keys = ["poll_interval", "lookback", "lookback_every", "page_size", "poll_jitter", "reconcile", "accounts_every", "symbols_every", "daily_every", "pending_warn_after", "plausible_times"]
        static let maximumPageSize = 10_000
    }

    /// Reads the tuning keys present in `section`; an absent or invalid one keeps the inherited value (an invalid
    /// one is reported, so the file is refused all the same, but servers do not repeat the problem).
    mutating func readTuning(_ section: Mapping, inheriting inherited: ServerTuning) -> ServerTuning {
        var tuning = inherited
        if section["poll_interval"] != nil, let value = duration(section, "poll_interval", minimum: .milliseconds(100)) { tuning.pollInterval = value }
        if section["lookback"] != nil, let value = duration(section, "lookback", minimum: .zero) { tuning.sync.lookback = value }
        if section["lookback_every"] != nil, let value = duration(section, "lookback_every", minimum: .zero) { tuning.sync.lookbackEvery = value }
        if section["accounts_every"] != nil, let value = duration(section, "accounts_every", minimum: .seconds(10)) {
            tuning.sync.accountsEvery = value
            tuning.accountsEverySet = true
        }
        if section["symbols_every"] != nil, let value = duration(section, "symbols_every", minimum: .seconds(60)) { tuning.sync.symbolsEvery = value }
        if section["daily_every"] != nil, let value = duration(section, "daily_every", minimum: .seconds(1)) { tuning.sync.dailyEvery = value }
        if section["pending_warn_after"] != nil, let value = duration(section, "pending_warn_after", minimum: .seconds(60)) { tuning.sync.pendingWarnAfter = value }
        if let (text, mark) = scalar(section, "page_size") {
            if let value = Int(text), (1...ServerTuning.maximumPageSize).contains(value) {
                tuning.sync.pageSize = value
            } else {
                report(section.child("page_size"), mark, "must be a whole number from 1 to \(ServerTuning.maximumPageSize) (the bridge protocol's page limit), not \(String(reflecting: text))")
            }
        }
        if let (text, mark) = scalar(section, "poll_jitter") {
            if let value = Self.percentage(text), (0...50).contains(value) {
                tuning.pollJitter = value / 100
            } else {
                report(section.child("poll_jitter"), mark, "must be a percentage from 0% to 50%, like 10%, not \(String(reflecting: text))")
            }
        }
        if let node = section["reconcile"], !node.isNull, let reconcile = mapping(node, path: section.child("reconcile"), keys: ["every", "window"]) {
            if let (text, mark) = scalar(reconcile, "every") {
                if ["off", "false", "no", "never"].contains(text.lowercased()) {
                    tuning.reconcileEvery = nil
                } else if let value = checkedDuration(text, at: reconcile.child("every"), mark, minimum: .seconds(60), hint: "or `off` to disable the trailing reconcile") {
                    tuning.reconcileEvery = value
                }
            }
            if reconcile["window"] != nil, let value = duration(reconcile, "window", minimum: .seconds(60)) { tuning.reconcileWindow = value }
        }
        if let node = section["plausible_times"], !node.isNull, let window = mapping(node, path: section.child("plausible_times"), keys: ["earliest", "ahead"]) {
            if let (text, mark) = scalar(window, "earliest") {
                if let value = ServerStart.parse(text) {
                    tuning.plausibleTimes.earliestServerMilliseconds = value
                } else {
                    report(window.child("earliest"), mark, "must be a server-time date YYYY-MM-DD (1970 to 2999) before which no record is stored, not \(String(reflecting: text))")
                }
            }
            if window["ahead"] != nil, let value = duration(window, "ahead", minimum: .seconds(60)) {
                tuning.plausibleTimes = PlausibleTimeRule(earliestServerMilliseconds: tuning.plausibleTimes.earliestServerMilliseconds, ahead: value)
            }
        }
        return tuning
    }

    static func percentage(_ text: String) -> Double? {
        let trimmed = text.trimmingASCIIWhitespace()
        guard trimmed.hasSuffix("%") else { return nil }
        let number = String(trimmed.dropLast()).trimmingASCIIWhitespace()
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) else { return nil }
        return Double(number)
    }

    // MARK: - servers

    static let serverKeys = ["id", "platform", "time_zone", "start", "bridge", "drop", "rules_file", "rules"] + ServerTuning.keys

    mutating func readServers(_ top: Mapping, defaults: ServerTuning) -> [ServerConfiguration]? {
        guard let node = top["servers"], !node.isNull else {
            report("servers", top.mark, "is required: list the trade servers to sync (see docs/examples/mtsync.yaml)")
            return nil
        }
        guard case .sequence(let list) = node else {
            report("servers", node.mark, "must be a list of servers (each item starting with `- id: …`), found \(node.kindName)")
            return nil
        }
        guard !list.isEmpty else {
            report("servers", node.mark, "is empty: list at least one trade server")
            return nil
        }
        var servers: [ServerConfiguration] = []
        var seen: [String: Int] = [:]
        var complete = true
        for (index, item) in list.enumerated() {
            let path = "servers[\(index)]"
            guard let section = mapping(item, path: path, keys: Self.serverKeys) else {
                complete = false
                continue
            }
            // Peeked at without reporting: readServer reports a malformed id.
            if let idNode = section["id"], case .scalar(let scalar) = idNode {
                let id = scalar.string.trimmingASCIIWhitespace()
                if let first = seen[id] {
                    report(section.child("id"), idNode.mark, "server id \(String(reflecting: id)) is already used by servers[\(first)]: give each server its own id")
                    complete = false
                } else {
                    seen[id] = index
                }
            }
            if let server = readServer(section, defaults: defaults) { servers.append(server) } else { complete = false }
        }
        return complete ? servers : nil
    }

    mutating func readServer(_ section: Mapping, defaults: ServerTuning) -> ServerConfiguration? {
        var id: ServerID?
        if let (text, mark) = required(section, "id", hint: "give the server an id such as live-mt5 (letters, digits, '_', '.', '-')") {
            do { id = try ServerID(text) } catch { report(section.child("id"), mark, "\(error)") }
        }
        var platform: Platform?
        if let (text, mark) = required(section, "platform", hint: "write `platform: mt4` or `platform: mt5`") {
            platform = Platform(rawValue: text)
            if platform == nil { report(section.child("platform"), mark, "must be mt4 or mt5, not \(String(reflecting: text))") }
        }
        var zone: ServerTimeZone?
        if let (text, mark) = required(section, "time_zone", hint: "give the trade server's clock: an IANA name (Europe/Athens), a fixed offset (+02:00) or ny-close") {
            zone = ServerTimeZone(text)
            if zone == nil {
                report(section.child("time_zone"), mark, "\(String(reflecting: text)) is not an IANA zone name (Europe/Athens), a fixed offset (+02:00, UTC) or ny-close (New York + 7 h)")
            }
        }
        var start: Int64?
        if let (text, mark) = required(section, "start", hint: "give the server-time date where the first sync begins, e.g. `start: 2025-01-01`") {
            start = ServerStart.parse(text)
            if start == nil { report(section.child("start"), mark, "must be a server-time date YYYY-MM-DD or date and time YYYY-MM-DDTHH:MM, not \(String(reflecting: text))") }
        }
        let source = readSource(section)
        let rules = readRules(section, id: id, platform: platform)
        let tuning = readTuning(section, inheriting: defaults)
        guard let id, let platform, let zone, let start, let source, let rules else { return nil }
        var sync = tuning.sync
        sync.startMilliseconds = start
        // After `changes_expired` the sync reconciles the trailing reconcile's window before following changes again.
        sync.changesRecoveryWindow = tuning.reconcileWindow
        if !tuning.accountsEverySet { serversInheritingFeedAccountsEvery.insert(id.rawValue) }
        return ServerConfiguration(
            id: id, platform: platform, zoneName: zone.name, zone: zone, source: source, sync: sync,
            pollInterval: tuning.pollInterval, pollJitter: tuning.pollJitter,
            reconcileEvery: tuning.reconcileEvery, reconcileWindow: tuning.reconcileWindow, rules: rules,
            plausibleTimes: tuning.plausibleTimes
        )
    }
}
