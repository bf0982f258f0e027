import MTSyncCore

/// The fuzzers' generator is `SplitMix64` (MTSyncCore): a fuzz run, and any finding in it, reproduces from its seed
/// alone. What the mutator asks of it:
extension SplitMix64 {
    /// A number in `0..<bound` (`bound` > 0).
    mutating func below(_ bound: Int) -> Int {
        Int(truncatingIfNeeded: next(below: UInt64(bound)))
    }

    /// True with probability 1 in `odds`.
    mutating func oneIn(_ odds: Int) -> Bool { below(odds) == 0 }
}

/// What a parser made of one input, as features: each thing it did (refused a line for a reason, decoded a deal,
/// reported a problem at a path) is one FNV-1a hash. The seeded loop keeps an input that showed a feature it had
/// not seen — feedback without compiler instrumentation. Deterministic, unlike `Hasher`, so runs reproduce.
public struct FuzzOutcome: Sendable, Hashable {
    public private(set) var features: [UInt64] = []

    mutating func add(_ text: String) {
        var hash = Self.basis
        for byte in text.utf8 { hash = Self.mix(hash, byte) }
        features.append(hash)
    }

    mutating func add(_ number: Int) {
        var hash = Self.basis
        for shift in stride(from: 0, to: 64, by: 8) { hash = Self.mix(hash, UInt8(truncatingIfNeeded: number >> shift)) }
        features.append(hash)
    }

    static let basis: UInt64 = 0xCBF2_9CE4_8422_2325

    static func mix(_ hash: UInt64, _ byte: UInt8) -> UInt64 { (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }

    /// FNV-1a of bytes, for deriving choices (chunk sizes) from an input.
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        bytes.reduce(basis, mix)
    }
}
