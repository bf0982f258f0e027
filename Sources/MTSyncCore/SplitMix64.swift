/// SplitMix64: a small, fast random generator that gives the same sequence on every machine for a given seed. The
/// simulator's datasets, the fuzzers' mutations and the property tests all depend on that: a dataset, a fuzz finding
/// or a failing case reproduces from its seed alone (the standard library's generator promises no such thing).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound`, 0 when `bound` is 0. The tiny modulo bias does not matter to its users.
    public mutating func next(below bound: UInt64) -> UInt64 { bound == 0 ? 0 : next() % bound }
}
