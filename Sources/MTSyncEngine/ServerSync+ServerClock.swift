import Foundation
import MTSyncCore

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
