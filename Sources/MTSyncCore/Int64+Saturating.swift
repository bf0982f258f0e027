extension Int64 {
    /// `self + other`, or the nearer `Int64` limit when the sum does not fit: for bounds computed from values a
    /// bridge or a stored cursor supplies (a range end a minute past the bridge's clock), where the limit is the
    /// right answer and a trap is not.
    public func saturatingAdding(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    /// `self - other`, or the nearer `Int64` limit when the difference does not fit.
    public func saturatingSubtracting(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other > 0 ? .min : .max) : difference
    }
}
