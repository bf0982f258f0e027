import Foundation
import MTSyncBridge
import MTSyncCore
import MTSyncStore
import Synchronization

extension ServerSync {
    /// The server's clock for a pull: the bridge's `server_time_ms` when it is plausible (`PlausibleTimeRule`), else
    /// mtsync's own clock in the server's zone, with a warning naming the value refused. Every bound a pull computes
    /// from the clock (the range's end, the daily window, the records' plausible times) starts from this reading, so
    /// `server_time_ms: 9223372036854775807` is a logged warning, not a crash loop.
    func serverClock(reported: Int64?, now: Date = Date()) -> ServerClock {
        let clock = batcher.serverClock(reported: reported, now: now)
        if let distrusted = clock.distrusted {
            logger.warning("the bridge's clock is implausible; using mtsync's own clock in the server's zone", metadata: [
                "server_time_ms": "\(distrusted)", "own_server_time_ms": "\(clock.nowMilliseconds)",
                "plausible_times": "\(batcher.normalizer.settings.plausibleTimes)",
                "hint": "check the trade server's clock and the bridge's server.info; records stamped more than plausible_times.ahead past mtsync's clock are quarantined",
            ])
        }
        return clock
    }
}

extension ServerSync {
    /// bridge-protocol §4.1: mtsync warns when the bridge's zone rule, its clock and the configured zone disagree
    /// (the checks of `bridge check --time-zone`). Said once per server and process while the same — a log line, the
    /// `mtsync_bridge_anomalies_total{code="zone_rule"}` counter and the stream's warning in `status` — and again
    /// when it changes. Nothing is refused: the configured zone stays the one facts are converted with.
    func checkZoneRule(info: JSONValue, clock: ServerClock) async throws {
        guard clock.distrusted == nil, let serverNow = info["server_time_ms"]?.text.flatMap({ Int64($0) }),
              let utcNow = info["utc_time_ms"]?.text.flatMap({ Int64($0) })
        else { return }
        let warnings = BridgeConformanceCheck.zoneWarnings(
            rule: info["time_zone"]?["rule"]?.text, serverNow: serverNow, utcNow: utcNow, configured: batcher.normalizer.settings.zone)
        guard zoneWarnings.differ(from: warnings) else { return }
        guard !warnings.isEmpty else { return zoneWarnings.remember(warnings) }
        for warning in warnings {
            SyncMetric.bridgeAnomalies.increment(serverID.rawValue, "zone_rule")
            logger.warning("the bridge's zone rule or clock disagrees with the configured zone (bridge-protocol §4.1)", metadata: ["detail": "\(warning)"])
        }
        try await FactStore.recordWarning(serverID: serverID, stream: stream, message: String(warnings.joined(separator: "; ").prefix(2_000)), on: connection)
        // Only once stored: a write that failed is tried again at the next pull.
        zoneWarnings.remember(warnings)
    }
}

/// The zone warnings last said for a server, shared by the copies of its `ServerSync` value.
final class ZoneWarningMemory: Sendable {
    private let said = Mutex<[String]>([])

    /// Whether `warnings` differ from those last said.
    func differ(from warnings: [String]) -> Bool { said.withLock { $0 != warnings } }
    func remember(_ warnings: [String]) { said.withLock { $0 = warnings } }
}
