/// The parsers that meet untrusted bytes, each with the properties it must keep (docs/fuzzing.md).
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// One NDJSON line (or several) from the export bridge: the line decoder, the record decoders, the session.
    case bridgeLine = "bridge-line"
    /// A CSV drop file or its manifest.
    case csvDrop = "csv-drop"
    /// A configuration file.
    case configuration

    /// Checks every property on one input; the result says what the parser made of it, which the seeded loop
    /// uses as feedback. Traps (a crash in the parser) are not caught: they end the process.
    public func check(_ input: UnsafeBufferPointer<UInt8>) throws(PropertyViolation) -> FuzzOutcome {
        switch self {
        case .bridgeLine: try BridgeLineProperties.check(input)
        case .csvDrop: try CSVDropProperties.check(input)
        case .configuration: try ConfigurationProperties.check(input)
        }
    }

    /// Checks `input` from an allocation of exactly its size (so AddressSanitizer sees any read past its end).
    public func check(_ input: [UInt8]) throws(PropertyViolation) -> FuzzOutcome {
        try input.withUnsafeBufferPointer { (buffer) throws(PropertyViolation) in
            try withExactCopy(buffer) { (exact) throws(PropertyViolation) in try check(exact) }
        }
    }

    /// The libFuzzer entry: a violated property traps, so libFuzzer keeps the input as a crash.
    public func run(_ input: UnsafeBufferPointer<UInt8>) {
        do {
            _ = try check(input)
        } catch {
            fatalError("\(rawValue): \(error) — input \(quoted(input))")
        }
    }

    public func run(_ input: [UInt8]) {
        input.withUnsafeBufferPointer { buffer in
            do {
                _ = try withExactCopy(buffer) { (exact) throws(PropertyViolation) in try check(exact) }
            } catch {
                fatalError("\(rawValue): \(error) — input \(quoted(input))")
            }
        }
    }

    /// Feeds `bytes` to the bridge line decoder and checks its properties; traps on a violation.
    public static func bridgeLine(_ bytes: [UInt8]) { FuzzTarget.bridgeLine.run(bytes) }
    /// Feeds `bytes` to the CSV drop reader (rows, records, manifest, file name); traps on a violation.
    public static func csvDrop(_ bytes: [UInt8]) { FuzzTarget.csvDrop.run(bytes) }
    /// Feeds `bytes` to the configuration parser; traps on a violation.
    public static func configuration(_ bytes: [UInt8]) { FuzzTarget.configuration.run(bytes) }

    /// The longest input worth mutating to: past the largest seed, short enough to keep runs fast.
    public var maximumLength: Int {
        switch self {
        case .bridgeLine: 16_384
        case .csvDrop: 8_192
        case .configuration: 8_192
        }
    }

    /// Syntax and vocabulary of the format, for the mutator and as a libFuzzer dictionary.
    public var dictionary: [[UInt8]] { FuzzDictionary.tokens(for: self) }
}
