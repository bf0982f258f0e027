import MTSyncCore

/// The seeded mutation loop: runs every seed as is, then mutants of a pool that starts as the seeds and keeps
/// each input that made the parser do something it had not done before (a new outcome feature) — feedback
/// without compiler instrumentation. Deterministic for a target, seed corpus and seed.
public struct SeededFuzzer {
    public let target: FuzzTarget
    private var mutator: SeededMutator
    private var pool: [[UInt8]]
    private var seeds: [[UInt8]]
    private var seen: Set<UInt64> = []
    private var random: SplitMix64
    public private(set) var inputsRun = 0
    /// The pool's bound: past it, a new input replaces a random one.
    static let poolLimit = 4_096

    public init(target: FuzzTarget, seeds: [[UInt8]], seed: UInt64) {
        self.target = target
        let seeds = seeds.isEmpty ? [[]] : seeds.map { Array($0.prefix(target.maximumLength)) }
        self.seeds = seeds
        pool = seeds
        mutator = SeededMutator(seed: seed, dictionary: target.dictionary, maximumLength: target.maximumLength)
        random = SplitMix64(seed: seed ^ 0x5EED_F00D)
    }

    /// Distinct outcome features seen so far.
    public var outcomes: Int { seen.count }
    public var poolSize: Int { pool.count }

    /// Runs `count` more inputs (the seeds themselves first). `willRun` sees each input before the parser does:
    /// the command line keeps it where its crash handler can write it out. Stops at the first violated property.
    public mutating func run(_ count: Int, willRun: (UnsafeBufferPointer<UInt8>) -> Void = { _ in }) throws(FuzzFinding) {
        for _ in 0..<count {
            let input: [UInt8]
            if inputsRun < seeds.count {
                input = seeds[inputsRun]
            } else {
                let base = pool[random.below(pool.count)]
                let donor = pool[random.below(pool.count)]
                input = mutator.mutate(base, donor: donor)
            }
            inputsRun += 1
            let outcome: FuzzOutcome
            do {
                outcome = try input.withUnsafeBufferPointer { (buffer) throws(PropertyViolation) in
                    try withExactCopy(buffer) { (exact) throws(PropertyViolation) in
                        willRun(exact)
                        return try target.check(exact)
                    }
                }
            } catch {
                throw FuzzFinding(target: target, input: input, violation: error, inputNumber: inputsRun)
            }
            var isNew = false
            for feature in outcome.features where seen.insert(feature).inserted { isNew = true }
            if isNew {
                if pool.count < Self.poolLimit { pool.append(input) } else { pool[random.below(pool.count)] = input }
            }
        }
    }
}

/// An input that broke a property, with everything needed to reproduce it.
public struct FuzzFinding: Error, Sendable, CustomStringConvertible {
    public let target: FuzzTarget
    public let input: [UInt8]
    public let violation: PropertyViolation
    /// 1-based position of the input in its run.
    public let inputNumber: Int

    public var description: String { "\(target.rawValue) input #\(inputNumber): \(violation) — input \(quoted(input, limit: 400))" }
}
