extension Duration {
    /// Seconds with their fraction, as `make_interval(secs => …)` takes them.
    var fractionalSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
