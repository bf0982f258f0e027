import Foundation
import MTSyncFuzzing

enum FuzzingFixtures {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let regressions = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "Regressions")

    /// The committed corpus (fuzz/corpus/<target>/) and the built-in seeds.
    static func seeds(_ target: FuzzTarget) -> [[UInt8]] {
        let committed = SeedCorpus.load(directory: repository.appending(path: "fuzz/corpus/\(target.rawValue)"))
        var seen = Set<[UInt8]>()
        return (committed + SeedCorpus.builtIn(for: target)).map(\.bytes).filter { seen.insert($0).inserted }
    }

    /// An input as text for a failure message: printable ASCII as is, the rest escaped.
    static func show(_ bytes: [UInt8]) -> String {
        bytes.prefix(300).map { (0x20..<0x7F).contains($0) ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined()
    }
}
