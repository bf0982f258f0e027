/// Decimal text of integers appended as UTF-8 bytes, without building a `String`: the store's COPY rows, the outbox
/// payload and server times write several per fact while a page's transaction waits (issue 23).
public enum DecimalDigits {
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
