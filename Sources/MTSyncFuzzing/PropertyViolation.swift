/// A property of a parser that an input broke: what should hold and what happened instead. The fuzz entry
/// points turn it into a trap (so libFuzzer keeps the input as a crash); the tests into a failed expectation.
public struct PropertyViolation: Error, Sendable, Hashable, CustomStringConvertible {
    public let property: String
    public let detail: String

    public init(_ property: String, _ detail: String) {
        self.property = property
        self.detail = detail
    }

    public var description: String { "property violated: \(property) — \(detail)" }
}

/// Throws a violation of `property` unless `condition` holds; the detail is built only when it does not.
@inline(__always)
func require(_ condition: Bool, _ property: StaticString, _ detail: @autoclosure () -> String = "") throws(PropertyViolation) {
    if !condition { throw PropertyViolation("\(property)", detail()) }
}

/// `bytes` as text for a violation's detail: printable ASCII as is, the rest escaped, at most `limit` bytes.
func quoted(_ bytes: some Collection<UInt8>, limit: Int = 200) -> String {
    var text = "\""
    for byte in bytes.prefix(limit) {
        switch byte {
        case 0x22: text += "\\\""
        case 0x5C: text += "\\\\"
        case 0x20..<0x7F: text.unicodeScalars.append(Unicode.Scalar(byte))
        default: text += "\\x" + String(byte, radix: 16).leftPadded(to: 2)
        }
    }
    return text + (bytes.count > limit ? "\"… (\(bytes.count) bytes)" : "\"")
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
