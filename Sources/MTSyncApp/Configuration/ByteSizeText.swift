/// Sizes as the configuration file writes them: a whole number of bytes with an optional binary unit —
/// `65536`, `512KiB`, `64MiB`, `4GiB`, `1TiB`. Decimal units (`GB`) are refused rather than guessed: a disk's
/// "GB" and a kernel's differ by 7 %, and a cap that is quietly 7 % off is a cap nobody can reason about.
public enum ByteSizeText {
    private static let units: [(suffix: String, bytes: Int64)] = [
        ("", 1), ("B", 1), ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
    ]

    /// The number of bytes `text` denotes, or nil when it is not of the form above or overflows.
    public static func parse(_ text: String) -> Int64? {
        let trimmed = Substring(text.trimmingASCIIWhitespace())
        let digits = trimmed.prefix(while: { $0.isASCII && $0.isNumber })
        guard !digits.isEmpty, digits.count <= 15, let amount = Int64(digits) else { return nil }
        let suffix = trimmed.dropFirst(digits.count).trimmingPrefix(" ")
        guard let unit = units.first(where: { $0.suffix == suffix }) else { return nil }
        let (bytes, overflow) = amount.multipliedReportingOverflow(by: unit.bytes)
        return overflow ? nil : bytes
    }

    /// The shortest exact text `parse` reads back as `bytes`: `4GiB`, `1536KiB`, `1000`.
    public static func format(_ bytes: Int64) -> String {
        for unit in units.reversed() where unit.bytes > 1 && bytes > 0 && bytes % unit.bytes == 0 {
            return "\(bytes / unit.bytes)\(unit.suffix)"
        }
        return "\(bytes)"
    }
}
