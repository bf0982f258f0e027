import MTSyncCore

/// The mutation engine of the seeded loop (the fallback where libFuzzer is not available, and the tests' short
/// runs): libFuzzer's classic byte-level mutations plus syntax tokens of the format under test, stacked 1 to 8
/// at a time. Deterministic for a seed.
public struct SeededMutator: Sendable {
    public private(set) var random: SplitMix64
    /// Syntax and vocabulary of the format: inserted or written over the input.
    public let dictionary: [[UInt8]]
    public let maximumLength: Int

    public init(seed: UInt64, dictionary: [[UInt8]], maximumLength: Int) {
        random = SplitMix64(seed: seed)
        self.dictionary = dictionary.filter { !$0.isEmpty }
        self.maximumLength = maximumLength
    }

    enum Mutation: CaseIterable {
        case flipBit, randomByte, insertRandomBytes, eraseRange, duplicateRange, insertToken, overwriteWithToken
        case interestingByte, interestingNumber, splice, insertFromDonor, repeatChunk, truncate, swapRanges
    }

    /// Bytes that parsers of text formats treat specially.
    static let interestingBytes: [UInt8] = [
        0x00, 0x09, 0x0A, 0x0D, 0x20, 0x22, 0x27, 0x2C, 0x2D, 0x2E, 0x30, 0x3A, 0x5B, 0x5C, 0x5D, 0x7B, 0x7D, 0x7F,
        0x80, 0xBF, 0xC0, 0xC3, 0xED, 0xEF, 0xBB, 0xF4, 0xF5, 0xFF,
    ]

    /// Numbers at the edges of what the decoders convert: Int64, UInt64, exponents, leading zeros, long digit runs.
    static let interestingNumbers: [[UInt8]] = [
        "0", "-0", "-1", "1", "00", "01", "0.0", "-0.0", "1e309", "1E+2", "1e-400", "2.5e-5", "9223372036854775807",
        "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
        "18446744073709551616", "4294967296", "2147483648", "65535", "65536", "99999999999999999999999999999999999999",
        "0.000000000000000000000000000001", "123456789012.123456789", "1.", ".5", "-", "+1", "1_000", "0x10", "NaN",
        "Infinity", "1e", "100000000", "86400000", "1735689600000", "253402300799999",
    ].map { Array($0.utf8) } + FuzzDictionary.extremes.map { Array($0.utf8) }

    /// A mutant of `input`; `donor` (another corpus entry) feeds the splicing mutations.
    public mutating func mutate(_ input: [UInt8], donor: [UInt8]) -> [UInt8] {
        var bytes = input
        let stacked = 1 << random.below(4)
        for _ in 0..<stacked {
            apply(Mutation.allCases[random.below(Mutation.allCases.count)], to: &bytes, donor: donor)
        }
        if bytes.count > maximumLength { bytes.removeLast(bytes.count - maximumLength) }
        return bytes
    }

    private mutating func position(in bytes: [UInt8]) -> Int { bytes.isEmpty ? 0 : random.below(bytes.count + 1) }

    /// A range of at most `longest` bytes inside `bytes` (empty when `bytes` is).
    private mutating func range(in bytes: [UInt8], longest: Int) -> Range<Int> {
        guard !bytes.isEmpty else { return 0..<0 }
        let start = random.below(bytes.count)
        let length = 1 + random.below(min(longest, bytes.count - start))
        return start..<start + length
    }

    private mutating func token() -> [UInt8] {
        dictionary.isEmpty ? [0x22] : dictionary[random.below(dictionary.count)]
    }

    private mutating func apply(_ mutation: Mutation, to bytes: inout [UInt8], donor: [UInt8]) {
        switch mutation {
        case .flipBit:
            guard !bytes.isEmpty else { return bytes.append(UInt8(truncatingIfNeeded: random.next())) }
            bytes[random.below(bytes.count)] ^= 1 << UInt8(random.below(8))
        case .randomByte:
            guard !bytes.isEmpty else { return bytes.append(UInt8(truncatingIfNeeded: random.next())) }
            bytes[random.below(bytes.count)] = UInt8(truncatingIfNeeded: random.next())
        case .insertRandomBytes:
            let count = 1 + random.below(8)
            let inserted = (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            bytes.insert(contentsOf: inserted, at: position(in: bytes))
        case .eraseRange:
            bytes.removeSubrange(range(in: bytes, longest: random.oneIn(4) ? 64 : 8))
        case .duplicateRange:
            let chunk = Array(bytes[range(in: bytes, longest: 32)])
            bytes.insert(contentsOf: chunk, at: position(in: bytes))
        case .insertToken:
            bytes.insert(contentsOf: token(), at: position(in: bytes))
        case .overwriteWithToken:
            let token = token()
            let start = position(in: bytes)
            bytes.replaceSubrange(start..<min(bytes.count, start + token.count), with: token)
        case .interestingByte:
            let byte = Self.interestingBytes[random.below(Self.interestingBytes.count)]
            if bytes.isEmpty || random.oneIn(2) { bytes.insert(byte, at: position(in: bytes)) } else { bytes[random.below(bytes.count)] = byte }
        case .interestingNumber:
            let number = Self.interestingNumbers[random.below(Self.interestingNumbers.count)]
            // Prefer replacing a run of digits, so numbers land where the format expects one.
            let digits = bytes.indices.filter { (0x30...0x39).contains(bytes[$0]) }
            guard !digits.isEmpty else { return bytes.insert(contentsOf: number, at: position(in: bytes)) }
            var start = digits[random.below(digits.count)], end = start + 1
            while start > 0, (0x30...0x39).contains(bytes[start - 1]) || bytes[start - 1] == 0x2D || bytes[start - 1] == 0x2E { start -= 1 }
            while end < bytes.count, (0x30...0x39).contains(bytes[end]) || bytes[end] == 0x2E || bytes[end] == 0x65 { end += 1 }
            bytes.replaceSubrange(start..<end, with: number)
        case .splice:
            guard !donor.isEmpty else { return }
            let cut = position(in: bytes), donorCut = random.below(donor.count)
            bytes = Array(bytes[..<cut]) + donor[donorCut...]
        case .insertFromDonor:
            guard !donor.isEmpty else { return }
            let donorRange = range(in: donor, longest: 128)
            bytes.insert(contentsOf: donor[donorRange], at: position(in: bytes))
        case .repeatChunk:
            // Deep nesting and long runs: "[[[[", "{\"a\":{\"a\":", ",,,,", "- - - -".
            let chunk = random.oneIn(2) ? token() : Array(bytes[range(in: bytes, longest: 8)])
            guard !chunk.isEmpty else { return }
            let times = 2 + random.below(random.oneIn(8) ? 256 : 16)
            var repeated: [UInt8] = []
            repeated.reserveCapacity(chunk.count * times)
            for _ in 0..<times { repeated += chunk }
            bytes.insert(contentsOf: repeated, at: position(in: bytes))
        case .truncate:
            guard !bytes.isEmpty else { return }
            bytes.removeLast(1 + random.below(bytes.count))
        case .swapRanges:
            guard bytes.count >= 4 else { return }
            let first = range(in: bytes, longest: 16)
            let chunk = Array(bytes[first])
            bytes.removeSubrange(first)
            bytes.insert(contentsOf: chunk, at: position(in: bytes))
        }
    }
}
