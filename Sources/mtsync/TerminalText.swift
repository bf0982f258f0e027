/// Text that came from outside (a bridge's error message, an ingest's answer, a group name or customer id a bridge
/// sent) shown on an operator's terminal. Control characters are written as `\u{…}` so an escape sequence in
/// that text cannot move the cursor, retitle the window or hide lines (docs/security.md, G14). `--json` output
/// needs none of this: JSON escapes control characters itself.
enum TerminalText {
    static func printable<S: StringProtocol>(_ text: S) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned:
                result += "\\u{\(String(scalar.value, radix: 16))}"
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    static func printable<S: StringProtocol>(_ text: S?, absent: String) -> String {
        text.map { printable($0) } ?? absent
    }
}
