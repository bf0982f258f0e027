/// Durations as the configuration file writes them: a number and a unit, optionally several run together —
/// `500ms`, `10s`, `5m`, `1h`, `3d`, `1h30m`. A bare number is refused: "30" could mean seconds or minutes.
public enum DurationText {
    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
    ]

    /// The duration `text` denotes, or nil when it is not of the form above.
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingASCIIWhitespace())
        guard !rest.isEmpty else { return nil }
        var total: Int64 = 0
        while !rest.isEmpty {
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            guard !digits.isEmpty, digits.count <= 12, let amount = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            // "ms" before "m": the longest unit that matches.
            let letters = rest.prefix(while: { $0.isASCII && $0.isLetter })
            guard let unit = units.first(where: { $0.suffix == letters }) else { return nil }
            rest = rest.dropFirst(letters.count)
            let (product, overflow) = amount.multipliedReportingOverflow(by: unit.milliseconds)
            guard !overflow else { return nil }
            let (sum, sumOverflow) = total.addingReportingOverflow(product)
            guard !sumOverflow else { return nil }
            total = sum
        }
        return .milliseconds(total)
    }

    /// The shortest text `parse` reads back as `duration` (to the millisecond): `1h30m`, `500ms`, `0s`.
    public static func format(_ duration: Duration) -> String {
        var milliseconds = duration.wholeMilliseconds
        guard milliseconds > 0 else { return "0s" }
        var text = ""
        for unit in units.reversed() where milliseconds >= unit.milliseconds {
            let amount = milliseconds / unit.milliseconds
            milliseconds %= unit.milliseconds
            text += "\(amount)\(unit.suffix)"
        }
        return text
    }
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
