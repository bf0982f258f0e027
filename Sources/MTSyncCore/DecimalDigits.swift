/// Decimal text of integers appended as UTF-8 bytes, without building a `String`: the store's COPY rows, the outbox
/// payload and server times write several per fact while a page's transaction waits (issue 23). And read back from
/// UTF-8 bytes: the normalizer's fields, the relay's stored facts.
public enum DecimalDigits {
    /// Digits only (no sign, no point, no exponent, no spaces); nil when not, or when over `UInt64`.
    @inlinable
    public static func parse(utf8: some Collection<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        var sawDigit = false
        for byte in utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            sawDigit = true
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return sawDigit ? value : nil
    }

    /// An optional minus sign, then digits (`parse`); nil when not, or when outside `Int64`.
    @inlinable
    public static func parseSigned(utf8: some Collection<UInt8>) -> Int64? {
        let negative = utf8.first == UInt8(ascii: "-")
        guard let magnitude = parse(utf8: utf8.dropFirst(negative ? 1 : 0)),
              magnitude <= (negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)) else { return nil }
        return negative ? Int64(truncatingIfNeeded: 0 &- magnitude) : Int64(magnitude)
    }

    /// Appends `value`'s digits as `String(value)` writes them, with leading zeros up to `minimumWidth`.
    public static func write(_ value: UInt64, minimumWidth: Int = 1, into bytes: inout [UInt8]) {
        var count = 1, rest = value / 10
        while rest > 0 { count += 1; rest /= 10 }
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(minimumWidth, count)))
        var magnitude = value, index = bytes.count
        repeat {
            index -= 1
            bytes[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
    }

    /// Appends `value` as `String(value)` writes it: a minus sign, then the digits.
    public static func write(_ value: Int64, into bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        write(value.magnitude, into: &bytes)
    }
}
