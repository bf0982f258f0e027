extension Duration {
    /// Seconds with their fraction (`make_interval(secs => …)`, `Date` arithmetic).
    public var fractionalSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
