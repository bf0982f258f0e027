import MTSyncCore
import Testing

@Suite("Decimal digits written as bytes and read back")
struct DecimalDigitsTests {
    @Test("a signed integer is written as String writes it", arguments: [Int64.min, -10, -1, 0, 7, 10, 99, 1_000, Int64.max])
    func signed(value: Int64) {
        var bytes = Array("x=".utf8)
        DecimalDigits.write(value, into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "x=" + String(value))
    }

    @Test("an unsigned integer with leading zeros up to a width, never cut", arguments: [
        (UInt64(0), 1, "0"), (0, 3, "000"), (5, 2, "05"), (12_345, 2, "12345"), (UInt64.max, 1, String(UInt64.max)),
    ])
    func unsigned(value: UInt64, width: Int, text: String) {
        var bytes: [UInt8] = []
        DecimalDigits.write(value, minimumWidth: width, into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == text)
    }

    @Test("read back: what String writes, and nothing else (no sign twice, no spaces, nothing outside Int64)", arguments: [
        ("0", Int64(0)), ("-1", -1), ("9223372036854775807", Int64.max), ("-9223372036854775808", Int64.min),
        ("9223372036854775808", nil), ("-9223372036854775809", nil), ("", nil), ("-", nil), ("--1", nil), ("+1", nil), (" 1", nil), ("1.0", nil),
    ] as [(String, Int64?)])
    func readBack(text: String, value: Int64?) {
        #expect(DecimalDigits.parseSigned(utf8: Array(text.utf8)) == value)
        if let value, value >= 0 { #expect(DecimalDigits.parse(utf8: Array(text.utf8)) == UInt64(value)) }
    }
}
