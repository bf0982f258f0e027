import Foundation
import MTSyncFuzzing
import Testing

@Suite("Fuzzing the parsers that meet untrusted bytes: short seeded runs")
struct ShortFuzzRunTests {
    // Debug builds run a few thousand inputs a second (the configuration parser a few hundred): enough to catch a
    // regression in the properties quickly; scripts/fuzz runs millions (docs/fuzzing.md).
    @Test("a short seeded run of each parser keeps every property", arguments: [
        (FuzzTarget.bridgeLine, 4_000), (.csvDrop, 4_000), (.configuration, 1_200),
    ])
    func shortRun(target: FuzzTarget, runs: Int) {
        let seeds = FuzzingFixtures.seeds(target)
        var fuzzer = SeededFuzzer(target: target, seeds: seeds, seed: 0xF0CC_1200)
        do {
            try fuzzer.run(runs)
        } catch {
            Issue.record("\(error)")
        }
        #expect(fuzzer.inputsRun == runs)
        // Feedback works: mutants showed the parser doing things the seeds alone did not.
        #expect(fuzzer.poolSize > seeds.count, "no mutant was kept: the outcome features do not vary")
    }

    @Test("every seed of the committed corpus, and every seed the repository's examples make, keeps every property", arguments: FuzzTarget.allCases)
    func seedsKeepProperties(target: FuzzTarget) throws {
        let fromRepository = try SeedCorpus.fromRepository(FuzzingFixtures.repository)[target] ?? []
        #expect(!fromRepository.isEmpty)
        let committed = FuzzingFixtures.seeds(target)
        #expect(committed.count >= fromRepository.count, "fuzz/corpus/\(target.rawValue) is missing seeds: run `swift run mtsync-fuzz corpus`")
        for seed in committed + fromRepository.map(\.bytes) {
            #expect(throws: Never.self, "\(FuzzingFixtures.show(seed))") { try target.check(seed) }
        }
    }

    @Test("a run reproduces from its seed")
    func reproducible() throws {
        func outcomes(seed: UInt64) throws -> (Int, Int) {
            var fuzzer = SeededFuzzer(target: .csvDrop, seeds: FuzzingFixtures.seeds(.csvDrop), seed: seed)
            try fuzzer.run(400)
            return (fuzzer.outcomes, fuzzer.poolSize)
        }
        let first = try outcomes(seed: 7)
        #expect(try outcomes(seed: 7) == first)
    }

    @Test("mutants are deterministic for a seed, vary, and never exceed the maximum length")
    func mutator() {
        let seed = Array(#"{"type":"end","id":"r1","count":3,"more":false,"next":null}"#.utf8)
        var first = SeededMutator(seed: 99, dictionary: FuzzTarget.bridgeLine.dictionary, maximumLength: 80)
        var second = SeededMutator(seed: 99, dictionary: FuzzTarget.bridgeLine.dictionary, maximumLength: 80)
        var distinct = Set<[UInt8]>()
        for _ in 0..<2_000 {
            let mutant = first.mutate(seed, donor: Array("a,b\n".utf8))
            #expect(mutant == second.mutate(seed, donor: Array("a,b\n".utf8)))
            #expect(mutant.count <= 80)
            distinct.insert(mutant)
        }
        #expect(distinct.count > 1_500)
        // An empty input grows.
        #expect(first.mutate([], donor: []).count >= 0)
    }

    @Test("every target has a dictionary of its syntax")
    func dictionaries() {
        for target in FuzzTarget.allCases {
            #expect(target.dictionary.count > 30)
            #expect(target.dictionary.allSatisfy { !$0.isEmpty })
        }
    }
}
