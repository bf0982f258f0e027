import Foundation
import MTSyncCore
import MTSyncFuzzing

/// `mtsync-fuzz`: the seeded mutation loop over the parsers that meet untrusted bytes, and its tools. Built by
/// scripts/fuzz with `-sanitize=fuzzer,address -DMTSYNC_LIBFUZZER`, the same program is a libFuzzer binary:
/// `mtsync-fuzz --target T [libFuzzer options] [corpus folders]`. docs/fuzzing.md has the details.
@main
struct MTSyncFuzz {
    static let usage = """
        usage: mtsync-fuzz [--target bridge-line|csv-drop|configuration|all] [--runs N] [--seed S] [--corpus DIR] [--crashes DIR]
                   the seeded mutation loop (default: all targets, 100000 runs each, seed 1, corpus fuzz/corpus, crashes fuzz/crashes)
               mtsync-fuzz replay --target T FILE...      runs each file once through the target's properties
               mtsync-fuzz corpus [--repository DIR] [--out DIR]
                   writes the seed corpus from the repository's examples (default: . and fuzz/corpus)
               mtsync-fuzz dictionary --target T          prints the target's tokens as a libFuzzer dictionary
        """

    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        switch arguments.first {
        case "replay":
            arguments.removeFirst()
            replay(arguments)
        case "corpus":
            arguments.removeFirst()
            writeCorpus(arguments)
        case "dictionary":
            arguments.removeFirst()
            printDictionary(arguments)
        case "-h", "--help", "help":
            print(usage)
        default:
            #if MTSYNC_LIBFUZZER
            runLibFuzzer(arguments)
            #else
            runSeededLoop(arguments)
            #endif
        }
    }

    static func fail(_ message: String, code: Int32 = 64) -> Never {
        FileHandle.standardError.write(Data("mtsync-fuzz: \(message)\n".utf8))
        exit(code)
    }

    /// Takes `--name value` out of `arguments`.
    static func option(_ name: String, in arguments: inout [String]) -> String? {
        guard let index = arguments.firstIndex(of: name) else { return nil }
        guard index + 1 < arguments.count else { fail("\(name) needs a value\n\(usage)") }
        let value = arguments[index + 1]
        arguments.removeSubrange(index...index + 1)
        return value
    }

    static func number(_ text: String?, _ name: String) -> Int? {
        guard let text else { return nil }
        guard let value = Int(text.replacingOccurrences(of: "_", with: "")), value >= 0 else { fail("\(name) needs a whole number, not \(text)") }
        return value
    }

    static func targets(_ name: String?) -> [FuzzTarget] {
        guard let name, name != "all" else { return FuzzTarget.allCases }
        guard let target = FuzzTarget(rawValue: name) else {
            fail("unknown target \(name): one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")), all")
        }
        return [target]
    }

    static func seeds(for target: FuzzTarget, corpus: String) -> [[UInt8]] {
        let files = SeedCorpus.load(directory: URL(fileURLWithPath: corpus).appending(path: target.rawValue))
        var seen = Set<[UInt8]>()
        return (files + SeedCorpus.builtIn(for: target)).map(\.bytes).filter { seen.insert($0).inserted }
    }

    // MARK: - The seeded loop

    static func runSeededLoop(_ arguments: [String]) {
        var arguments = arguments
        let targets = targets(option("--target", in: &arguments))
        let runs = number(option("--runs", in: &arguments), "--runs") ?? 100_000
        let seed = number(option("--seed", in: &arguments), "--seed").map { UInt64($0) } ?? 1
        let corpus = option("--corpus", in: &arguments) ?? "fuzz/corpus"
        let crashes = option("--crashes", in: &arguments) ?? "fuzz/crashes"
        guard arguments.isEmpty else { fail("unexpected \(arguments.joined(separator: " "))\n\(usage)") }
        try? FileManager.default.createDirectory(atPath: crashes, withIntermediateDirectories: true)

        for target in targets {
            let crashFile = "\(crashes)/crash-\(target.rawValue)-seed\(seed)"
            CrashRecorder.install(writingTo: crashFile)
            var fuzzer = SeededFuzzer(target: target, seeds: seeds(for: target, corpus: corpus), seed: seed)
            let clock = ContinuousClock()
            let start = clock.now
            var reported = start
            do throws(FuzzFinding) {
                while fuzzer.inputsRun < runs {
                    try fuzzer.run(min(10_000, runs - fuzzer.inputsRun), willRun: CrashRecorder.willRun)
                    if clock.now - reported > .seconds(30) {
                        reported = clock.now
                        FileHandle.standardError.write(Data("\(target.rawValue): \(fuzzer.inputsRun) inputs, \(rate(fuzzer.inputsRun, clock.now - start))/s, \(fuzzer.outcomes) outcomes\n".utf8))
                    }
                }
            } catch {
                let file = "\(crashes)/violation-\(target.rawValue)-seed\(seed)-\(error.inputNumber)"
                _ = FileManager.default.createFile(atPath: file, contents: Data(error.input))
                print("\(target.rawValue): \(error.inputNumber) inputs, 1 crash (property violated), input written to \(file)")
                fail("\(error)", code: 1)
            }
            let elapsed = clock.now - start
            let seconds = elapsed.fractionalSeconds
            print("\(target.rawValue): \(fuzzer.inputsRun) inputs in \(String(format: "%.1f", seconds)) s, \(rate(fuzzer.inputsRun, elapsed)) inputs/s, 0 crashes, \(fuzzer.outcomes) outcome features (seed \(seed))")
        }
    }

    static func rate(_ inputs: Int, _ elapsed: Duration) -> Int {
        let seconds = elapsed.fractionalSeconds
        return seconds > 0 ? Int(Double(inputs) / seconds) : 0
    }

    // MARK: - Tools

    static func replay(_ arguments: [String]) {
        var arguments = arguments
        guard let name = option("--target", in: &arguments), let target = FuzzTarget(rawValue: name) else { fail("replay needs --target T\n\(usage)") }
        var violations = 0
        for file in arguments {
            guard let data = FileManager.default.contents(atPath: file) else { fail("cannot read \(file)", code: 66) }
            do {
                _ = try target.check(Array(data))
                print("\(file): ok")
            } catch {
                violations += 1
                print("\(file): \(error)")
            }
        }
        if violations > 0 { exit(1) }
    }

    static func writeCorpus(_ arguments: [String]) {
        var arguments = arguments
        let repository = URL(fileURLWithPath: option("--repository", in: &arguments) ?? ".")
        let out = URL(fileURLWithPath: option("--out", in: &arguments) ?? "fuzz/corpus")
        do {
            let corpus = try SeedCorpus.fromRepository(repository)
            try SeedCorpus.write(corpus, to: out)
            for target in FuzzTarget.allCases {
                let seeds = corpus[target] ?? []
                print("\(target.rawValue): \(seeds.count) seeds, \(seeds.reduce(0) { $0 + $1.bytes.count }) bytes")
            }
        } catch {
            fail("cannot write the corpus: \(error)", code: 1)
        }
    }

    /// libFuzzer's dictionary format: one quoted token a line, `\\`, `\"` and `\xNN` escaped.
    static func printDictionary(_ arguments: [String]) {
        var arguments = arguments
        guard let name = option("--target", in: &arguments), let target = FuzzTarget(rawValue: name) else { fail("dictionary needs --target T\n\(usage)") }
        for token in Set(target.dictionary).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            var line = "\""
            for byte in token {
                switch byte {
                case UInt8(ascii: "\\"): line += "\\\\"
                case UInt8(ascii: "\""): line += "\\\""
                case 0x20..<0x7F: line.unicodeScalars.append(Unicode.Scalar(byte))
                default: line += String(format: "\\x%02X", byte)
                }
            }
            print(line + "\"")
        }
    }

    // MARK: - libFuzzer

    #if MTSYNC_LIBFUZZER
    /// Hands the process to libFuzzer with the target chosen; everything but `--target T` goes to libFuzzer. The
    /// target is also left in MTSYNC_FUZZ_TARGET: libFuzzer's -fork and -jobs start workers with its own flags only.
    static func runLibFuzzer(_ arguments: [String]) {
        var arguments = arguments
        let name = option("--target", in: &arguments) ?? ProcessInfo.processInfo.environment["MTSYNC_FUZZ_TARGET"]
        guard let name, let target = FuzzTarget(rawValue: name) else {
            fail("the libFuzzer build needs --target bridge-line|csv-drop|configuration\n\(usage)")
        }
        setenv("MTSYNC_FUZZ_TARGET", target.rawValue, 1)
        libFuzzerTarget = target
        var argc = CInt(arguments.count + 1)
        let argv = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: arguments.count + 2)
        for (index, argument) in ([CommandLine.arguments[0]] + arguments).enumerated() { argv[index] = strdup(argument) }
        argv[arguments.count + 1] = nil
        var argvPointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
        exit(LLVMFuzzerRunDriver(&argc, &argvPointer) { data, size in LLVMFuzzerTestOneInput(data, size) })
    }
    #endif
}

#if MTSYNC_LIBFUZZER
nonisolated(unsafe) var libFuzzerTarget = FuzzTarget.bridgeLine

/// libFuzzer's driver (compiler-rt), started from `main` so that the target can be chosen on the command line.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// One input from libFuzzer; a violated property traps, which libFuzzer reports and keeps as a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    libFuzzerTarget.run(UnsafeBufferPointer(start: data, count: size))
    return 0
}
#endif
