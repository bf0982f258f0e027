import Metrics
import MTSyncBridge
import MTSyncCore
import MTSyncStore

/// Every metric mtsync exposes, with its type, labels and meaning: the one list the engine counts by, the
/// Prometheus exposition takes its `# HELP` lines from, and docs/operations.md documents (a test holds the three
/// together). Names follow Prometheus conventions (`mtsync_` prefix, base units, `_total` on counters); labels are
/// bounded: servers and streams from the configuration, fixed enumerations otherwise, never a login.
public struct SyncMetric: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case counter, gauge, histogram
    }

    public let name: String
    public let kind: Kind
    public let labels: [String]
    public let help: String

    // MARK: Sync

    public static let factsSynced = SyncMetric(
        "mtsync_facts_synced_total", .counter, ["server", "stream", "kind"],
        "Facts stored by sync, backfill and repair pages, by change: kind is inserted, updated or deleted.")
    public static let recordsQuarantined = SyncMetric(
        "mtsync_records_quarantined_total", .counter, ["server", "stream"],
        "Records that could not be normalized and went to the quarantine with their raw bytes.")
    public static let factsExcluded = SyncMetric(
        "mtsync_facts_excluded_total", .counter, ["server", "stream"],
        "Facts stored but never sent because their account's decision excludes them (a demo group, an excluded login); mtsync status shows them by reason.")
    public static let recordsHeld = SyncMetric(
        "mtsync_records_held_total", .counter, ["server", "stream"],
        "Records held as pending because their account is not known yet (counted each time a record is held or read again while held).")
    public static let pageDuration = SyncMetric(
        "mtsync_page_duration_seconds", .histogram, ["server", "stream", "phase"],
        "Time per page: phase read is reading a page from the bridge and normalizing it, store is the page's transaction.")
    public static let syncRuns = SyncMetric(
        "mtsync_sync_runs_total", .counter, ["server", "outcome"],
        "Incremental pulls by the daemon and mtsync sync: outcome is ok, failed or lease_lost.")
    public static let bridgeErrors = SyncMetric(
        "mtsync_bridge_errors_total", .counter, ["server", "code"],
        "Failed bridge conversations, retried or not, by the protocol's error code or connect_failed, timeout, connection_closed, tls, transport.")
    public static let bridgeAnomalies = SyncMetric(
        "mtsync_bridge_anomalies_total", .counter, ["server", "code"],
        "Things a bridge said that were not believed, its pages stored all the same: next_not_last, next_missing, count_mismatch, stray_line, unreadable_next, outside_range, out_of_order, duplicate_in_page, implausible_clock; file_rejected for a drop file moved to rejected/.")
    public static let cursorLag = SyncMetric(
        "mtsync_cursor_lag_seconds", .gauge, ["server", "stream"],
        "How far the live cursor's position is behind now, in seconds (read from the database every monitoring.refresh).")
    public static let leaseHeld = SyncMetric(
        "mtsync_lease_held", .gauge, ["server"],
        "1 while this instance holds the server's lease, 0 otherwise; summed over instances it is 1 when the server is synced.")

    // MARK: Store

    public static let quarantineOpen = SyncMetric(
        "mtsync_quarantine_open_entries", .gauge, ["server"], "Quarantine entries not yet resolved.")
    public static let pendingRecords = SyncMetric(
        "mtsync_pending_records", .gauge, ["server"], "Records waiting for their account (not sent, not excluded yet).")
    public static let pendingOldestAge = SyncMetric(
        "mtsync_pending_oldest_age_seconds", .gauge, ["server"], "How long the oldest record has waited for its account, 0 when none waits.")
    public static let outboxPending = SyncMetric(
        "mtsync_outbox_pending_events", .gauge, ["server"], "Outbox events not yet delivered to the ingest.")
    public static let outboxOldestAge = SyncMetric(
        "mtsync_outbox_oldest_pending_age_seconds", .gauge, ["server"], "Age of the oldest undelivered outbox event, 0 when none waits.")
    public static let outboxParked = SyncMetric(
        "mtsync_outbox_parked_events", .gauge, ["server"], "Dead-lettered outbox events waiting for an operator (mtsync outbox).")
    public static let storeRefreshFailures = SyncMetric(
        "mtsync_store_refresh_failures_total", .counter, [], "Failed reads of the gauges kept in the database; those gauges are stale meanwhile.")
    public static let storeRefreshed = SyncMetric(
        "mtsync_store_refreshed_timestamp_seconds", .gauge, [], "Unix time of the last successful read of the gauges kept in the database.")

    // MARK: Relay

    public static let relayDelivered = SyncMetric(
        "mtsync_relay_events_delivered_total", .counter, ["sink"], "Outbox events the ingest acknowledged: sink is sqs or http.")
    public static let relayRetries = SyncMetric(
        "mtsync_relay_retries_total", .counter, ["sink"], "Outbox events whose delivery failed and was scheduled again.")
    public static let relayDeadLetters = SyncMetric(
        "mtsync_relay_dead_letters_total", .counter, ["sink"], "Outbox events the ingest refused for good or that ran out of attempts.")
    public static let outboxPruned = SyncMetric(
        "mtsync_outbox_pruned_total", .counter, [], "Delivered outbox events deleted after ingest.relay.keep_delivered.")

    // MARK: Daily feed

    public static let feedHeldLogins = SyncMetric(
        "mtsync_feed_held_logins", .gauge, [], "Logins whose days wait for a customer id (mtsync accounts import).")
    public static let feedHeldCustomerDays = SyncMetric(
        "mtsync_feed_held_customer_days", .gauge, [], "Customer days held back, e.g. an account currency without a rate.")
    public static let feedPendingBatches = SyncMetric(
        "mtsync_feed_pending_batches", .gauge, [], "Daily-feed batches built and not yet sent.")
    public static let feedRowsSent = SyncMetric(
        "mtsync_feed_rows_sent_total", .counter, ["transport"], "Daily rows sent to the loyalty platform: transport is sqs or file_ingest.")
    public static let feedFileUploads = SyncMetric(
        "mtsync_feed_file_uploads_total", .counter, ["outcome"], "File-ingest uploads of the daily feed: outcome is accepted, retry or rejected.")

    // MARK: Process

    public static let buildInfo = SyncMetric("mtsync_build_info", .gauge, ["version"], "Always 1; the version label says which mtsync runs.")

    public static let all: [SyncMetric] = [
        buildInfo, factsSynced, recordsQuarantined, factsExcluded, recordsHeld, pageDuration, syncRuns, bridgeErrors, bridgeAnomalies, cursorLag, leaseHeld,
        quarantineOpen, pendingRecords, pendingOldestAge, outboxPending, outboxOldestAge, outboxParked, storeRefreshFailures, storeRefreshed,
        relayDelivered, relayRetries, relayDeadLetters, outboxPruned,
        feedHeldLogins, feedHeldCustomerDays, feedPendingBatches, feedRowsSent, feedFileUploads,
    ]

    init(_ name: String, _ kind: Kind, _ labels: [String], _ help: String) {
        self.name = name
        self.kind = kind
        self.labels = labels
        self.help = help
    }

    // MARK: Emitting (through swift-metrics: whatever backend `main` bootstrapped, nothing when none)

    /// Adds `amount` to a counter; `values` in the order of `labels`.
    public func increment(by amount: Int = 1, _ values: String...) {
        guard amount > 0 else { return }
        Counter(label: name, dimensions: dimensions(values)).increment(by: amount)
    }

    public func set(_ value: Double, _ values: String...) {
        Gauge(label: name, dimensions: dimensions(values)).record(value)
    }

    public func record(_ duration: Duration, _ values: String...) {
        Metrics.Timer(label: name, dimensions: dimensions(values)).recordNanoseconds(duration.wholeNanoseconds)
    }

    /// Creates the series at 0 without counting, so a rate or `increase()` over them works from the first scrape
    /// instead of starting when the first event happens.
    public func prime(_ values: String...) {
        switch kind {
        case .counter: _ = Counter(label: name, dimensions: dimensions(values))
        case .gauge: Gauge(label: name, dimensions: dimensions(values)).record(0)
        case .histogram: break  // A histogram's series appear with its first observation.
        }
    }

    /// Every series the daemon will count, at 0: per server and stream, per relay sink, and the feed's.
    public static func primeDaemon(servers: [(server: String, stream: String)], sink: String?, feed: Bool) {
        for (server, stream) in servers {
            for kind in ["inserted", "updated", "deleted"] { factsSynced.prime(server, stream, kind) }
            recordsQuarantined.prime(server, stream)
            factsExcluded.prime(server, stream)
            recordsHeld.prime(server, stream)
            for outcome in ["ok", "failed", "lease_lost"] { syncRuns.prime(server, outcome) }
            leaseHeld.prime(server)
        }
        if let sink {
            relayDelivered.prime(sink)
            relayRetries.prime(sink)
            relayDeadLetters.prime(sink)
            outboxPruned.prime()
        }
        if feed {
            for transport in ["sqs", "file_ingest"] { feedRowsSent.prime(transport) }
            for outcome in ["accepted", "retry", "rejected"] { feedFileUploads.prime(outcome) }
        }
        storeRefreshFailures.prime()
    }

    private func dimensions(_ values: [String]) -> [(String, String)] {
        precondition(values.count == labels.count, "\(name) takes the labels \(labels), got \(values)")
        return Array(zip(labels, values))
    }
}


/// The `code` label of `mtsync_bridge_errors_total`: the protocol's own codes where the bridge or the client named
/// one, otherwise what kind of transport failure it was. Codes from the bridge outside the spec's table count as
/// `other`, so a misbehaving bridge cannot grow the label set.
public enum BridgeErrorCode {
    static let protocolCodes: Set<String> = [
        "bad_request", "unknown_method", "unsupported_version", "auth_required", "auth_failed", "line_too_long",
        "range_too_large", "changes_expired", "rate_limited", "busy", "mt_unavailable", "internal",
        "malformed", "unexpected_message", "bridge_not_authenticated",
    ]

    public static func of(_ error: BridgeClientError) -> String {
        if let code = error.protocolError?.code.name {
            let normalized = code.split(separator: " ").joined(separator: "_")
            return protocolCodes.contains(normalized) ? normalized : "other"
        }
        if error.kind == .timeout { return "timeout" }
        // Said where the failure was made (BridgeConnection), never read back from the reason's text.
        return (error.transport ?? .other).rawValue
    }
}
