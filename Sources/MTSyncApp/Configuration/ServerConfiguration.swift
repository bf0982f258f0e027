import MTSyncCore
import MTSyncEngine

/// One trade server as the configuration file describes it, validated.
public struct ServerConfiguration: Sendable, Equatable {
    /// Where a server's records come from: its export bridge over TCP, or a CSV drop folder.
    public enum Source: Sendable, Equatable {
        case bridge(BridgeSettings)
        case drop(DropSource)
    }

    /// A CSV drop folder (bridge-protocol/README.md §7).
    public struct DropSource: Sendable, Equatable {
        /// The drop root (absolute): the server's files are under `<folder>/<id>/incoming`.
        public var folder: String
        /// A drop file larger than this is rejected (`too_large`) before it is read (`drop.max_file_size`).
        public var maxFileBytes: Int64

        /// 4 GiB: a day of a busy MT5 server's deals is a few hundred MB of CSV; a file far past that is more
        /// likely a runaway export than data, and reading it would hold the intake for a long time.
        public static let defaultMaxFileBytes: Int64 = 4 << 30

        public init(folder: String, maxFileBytes: Int64 = Self.defaultMaxFileBytes) {
            self.folder = folder
            self.maxFileBytes = maxFileBytes
        }
    }

    public var id: ServerID
    public var platform: Platform
    /// The zone as written (`ny-close`, `Europe/Athens`, `+02:00`); recorded on every fact.
    public var zoneName: String
    public var zone: ServerTimeZone
    public var source: Source
    /// What the server's sync reads and how: start, lookback, page size, the reference data's intervals (`lookback`,
    /// `page_size`, `accounts_every`, `symbols_every`, `daily_every`, `pending_warn_after`, inherited from `defaults`).
    public var sync: ServerSyncSettings
    /// Where the first sync begins: server wall-clock milliseconds, MetaTrader style (wall time read as UTC).
    public var start: Int64 { sync.startMilliseconds }
    public var pollInterval: Duration
    /// Each wait between polls is stretched or shrunk at random by up to this fraction (0.1 = 10 %), so servers
    /// configured alike do not poll in lockstep.
    public var pollJitter: Double
    /// How often the trailing reconcile runs; nil: never.
    public var reconcileEvery: Duration?
    /// How far back the trailing reconcile compares bridge and store.
    public var reconcileWindow: Duration
    /// Symbol rules, group and login filters, accounts and the ambiguous-time policy.
    public var rules: NormalizationRules
    /// Which record times are stored: not before `earliest`, not more than `ahead` past the server's clock
    /// (`plausible_times`; default from 2000-01-01, up to a day ahead). A record outside is quarantined.
    public var plausibleTimes: PlausibleTimeRule

    public init(
        id: ServerID, platform: Platform, zoneName: String, zone: ServerTimeZone, source: Source, sync: ServerSyncSettings,
        pollInterval: Duration, pollJitter: Double, reconcileEvery: Duration?, reconcileWindow: Duration, rules: NormalizationRules,
        plausibleTimes: PlausibleTimeRule = .standard
    ) {
        self.id = id
        self.platform = platform
        self.zoneName = zoneName
        self.zone = zone
        self.source = source
        self.sync = sync
        self.pollInterval = pollInterval
        self.pollJitter = pollJitter
        self.reconcileEvery = reconcileEvery
        self.reconcileWindow = reconcileWindow
        self.rules = rules
        self.plausibleTimes = plausibleTimes
    }

    /// What the normalizer needs for this server: its zone with the rules applied. The rules were applied
    /// once already when the configuration was loaded, so this throws only for rules changed since.
    public func normalizerSettings() throws(RulesError) -> ServerSettings {
        var settings = ServerSettings(server: id, platform: platform, zone: zone)
        settings.plausibleTimes = plausibleTimes
        try rules.apply(to: &settings)
        return settings
    }

    /// One line for `mtsync check-config` and the startup log; never shows the key.
    public var summary: String {
        let source: String
        switch self.source {
        case .bridge(let bridge):
            source = "bridge \(bridge.address) (\(bridge.tls == nil ? "plain TCP" : "TLS"), key id \(bridge.keyID))"
        case .drop(let drop):
            source = "CSV drop \(drop.folder)/\(id)/incoming (files up to \(ByteSizeText.format(drop.maxFileBytes)))"
        }
        let reconcile = reconcileEvery.map { "reconcile every \(DurationText.format($0)) over \(DurationText.format(reconcileWindow))" } ?? "reconcile off"
        let unknown = rules.filters?.unknownGroup ?? .hold
        var accounts = "accounts decide (unknown accounts: \(unknown == .hold ? "held until known" : "sent without one"))"
        if let overrides = rules.accounts, !overrides.isEmpty {
            accounts += ", \(overrides.count) account(s) from the rules file override the bridge's"
        }
        return "\(id): \(platform.rawValue) via \(source), zone \(zoneName), start \(ServerTimeText.minutes(milliseconds: start)), "
            + "poll \(DurationText.format(pollInterval)) ±\(Self.percent(pollJitter)), lookback \(DurationText.format(sync.lookback))"
            + (sync.lookbackEvery == .zero ? " every pull" : " every \(DurationText.format(sync.lookbackEvery))") + ", "
            + "page \(sync.pageSize), \(reconcile), \(accounts)"
            + (plausibleTimes == .standard ? "" : ", plausible times \(plausibleTimes)")
    }

    static func percent(_ fraction: Double) -> String {
        let value = fraction * 100
        return value == value.rounded() ? "\(Int(value))%" : "\(value)%"
    }
}
