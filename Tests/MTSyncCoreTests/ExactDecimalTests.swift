import Foundation
import MTSyncCore
import MTSyncTestSupport
import Testing

@Suite("Exact decimals")
struct ExactDecimalTests {
    @Test("parses JSON numbers and decimal strings exactly, printing one canonical form", arguments: [
        ("1.05", "1.05"), ("-0.5", "-0.5"), ("100", "100"), ("100.000", "100"), ("0.00000001", "0.00000001"),
        ("1e-5", "0.00001"), ("2.5E+3", "2500"), ("-0", "0"), ("0.0", "0"), ("+7.10", "7.1"),
        ("123456789012345678.123456789012345678", "123456789012345678.123456789012345678"),
        ("0.1", "0.1"), ("1.10000000000000008881784197001", nil as String?),
    ])
    func parsing(text: String, canonical: String?) {
        #expect(ExactDecimal(parsing: text)?.description == canonical)
    }

    @Test("rejects anything that is not a plain decimal number", arguments: [
        "", "-", ".", "1.2.3", "1,5", "1 000", " 1", "1 ", "NaN", "inf", "0x10", "1e", "1e+", "abc", "1.5abc",
        "1234567890123456789", "0.0000000000000000001", "1e200",
    ])
    func rejectsMalformed(text: String) {
        #expect(ExactDecimal(parsing: text) == nil)
    }

    @Test("0.1 + 0.2 is exactly 0.3")
    func noBinaryDrift() throws {
        let tenth = try #require(ExactDecimal(parsing: "0.1"))
        let twoTenths = try #require(ExactDecimal(parsing: "0.2"))
        let sum = try #require(tenth.adding(twoTenths))
        #expect(sum == ExactDecimal(parsing: "0.3"))
        #expect(sum.description == "0.3")
    }

    @Test("equal values are equal whatever their written scale, and order correctly")
    func equalityAndOrder() throws {
        #expect(ExactDecimal(parsing: "1.50") == ExactDecimal(parsing: "1.5"))
        #expect(ExactDecimal(parsing: "1.50")?.hashValue == ExactDecimal(parsing: "1.5")?.hashValue)
        let sorted = ["2", "-1.5", "0.001", "-1.49", "10"].compactMap { ExactDecimal(parsing: $0) }.sorted()
        #expect(sorted.map(\.description) == ["-1.5", "-1.49", "0.001", "2", "10"])
    }

    @Test("property: MT5 volume units round-trip through lots exactly", arguments: 0..<4)
    func lotsRoundTrip(seed: Int) throws {
        var generator = SplitMix64(seed: UInt64(seed))
        for _ in 0..<2_000 {
            let units = Int128(generator.next() % 1_000_000_000_000_000)  // up to 10^10 lots in 1e-8 units
            let lots = try #require(ExactDecimal(units, scale: 8))
            let reparsed = try #require(ExactDecimal(parsing: lots.description))
            #expect(reparsed == lots)
            // Back to units: lots × 10^8 is the original integer.
            #expect(lots.multiplied(by: ExactDecimal(100_000_000)) == ExactDecimal(units, scale: 0))
        }
    }

    @Test("property: a sum of money amounts equals the sum of their cents", arguments: 0..<4)
    func netIsExactSum(seed: Int) throws {
        var generator = SplitMix64(seed: UInt64(seed) &+ 99)
        for _ in 0..<1_000 {
            let cents = (0..<5).map { _ in Int64(bitPattern: generator.next()) % 100_000_000_000 }
            let amounts = cents.map { ExactDecimal(Int128($0), scale: 2)! }
            let sum = try #require(ExactDecimal.sum(amounts))
            #expect(sum == ExactDecimal(Int128(cents.reduce(0, +)), scale: 2))
        }
    }

    @Test("encodes as a JSON string and decodes back")
    func codable() throws {
        let value = try #require(ExactDecimal(parsing: "-1234.5678"))
        let data = try JSONEncoder().encode([value])
        #expect(String(decoding: data, as: UTF8.self) == #"["-1234.5678"]"#)
        #expect(try JSONDecoder().decode([ExactDecimal].self, from: data) == [value])
    }
}
