/// The conversions of `Duration` mtsync needs, in one place: every one truncates toward zero, as `components` does.
extension Duration {
    /// Seconds with their fraction (`make_interval(secs => …)`, `Date` arithmetic, throughput figures).
    public var fractionalSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// Whole milliseconds (server-time and UTC arithmetic, SQL intervals in ms, log fields).
    public var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// Whole nanoseconds; traps past about 292 years, which no setting reaches (see `clampedNanoseconds`).
    public var wholeNanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }

    /// Whole nanoseconds, `Int64.max` for a longer duration (backoff ceilings that double past any cap).
    public var clampedNanoseconds: Int64 {
        let (whole, overflow) = components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole &+ components.attoseconds / 1_000_000_000
    }
}
