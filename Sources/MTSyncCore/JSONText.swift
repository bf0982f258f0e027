/// JSON string literals (RFC 8259 §7) for the JSON mtsync writes by hand: bridge lines, ingest envelopes, feed rows,
/// log lines. One rule everywhere: `"` `\` and the C0 controls are escaped (`\n` `\r` `\t` by name, the others as
/// lowercase `\u00xx`), everything else is written as it is (DEL, U+2028, non-ASCII).
public enum JSONText {
    /// `text` as a quoted JSON string.
    public static func quoted(_ text: String) -> String {
        // Keys, kinds and server ids need no escaping: skip the scalar-by-scalar copy (the relay's packing cost).
        if !needsEscaping(text) { return "\"" + text + "\"" }
        var out = "\""
        appendEscaped(text, to: &out)
        return out + "\""
    }

    /// Whether `text` holds a character JSON escapes.
    public static func needsEscaping(_ text: String) -> Bool {
        !text.utf8.allSatisfy { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    }

    /// `text`'s characters, escaped, without the quotes (logfmt quotes a value by the same rule).
    public static func appendEscaped(_ text: String, to out: inout String) {
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
    }

    /// `text` as a quoted JSON string, appended as UTF-8 bytes (the bridge protocol's lines).
    public static func appendQuoted(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most values need no escaping: copy them whole (the outbox payload writes ~25 per fact).
        if !needsEscaping(text) {
            out.append(contentsOf: text.utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20: out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
