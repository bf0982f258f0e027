import MTSyncCore
import Testing

@Suite("JSON text: one escaping rule for every JSON mtsync writes")
struct JSONTextTests {
    @Test("quotes, backslashes and C0 controls are escaped; DEL, U+2028 and non-ASCII are written as they are", arguments: [
        ("plain", #""plain""#),
        ("a\"b\\c", #""a\"b\\c""#),
        ("line\nfeed\rtab\t", #""line\nfeed\rtab\t""#),
        ("\u{01}\u{1F}\u{00}", #""\u0001\u001f\u0000""#),
        ("\u{7F}\u{2028}é🙂", "\"\u{7F}\u{2028}é🙂\""),
        ("", #""""#),
    ])
    func quoted(text: String, expected: String) {
        #expect(JSONText.quoted(text) == expected)
    }

    @Test("the byte form and the string form write the same text", arguments: ["plain", "a\"b\\c\n\u{01}", "\u{7F}\u{2028}é🙂\t", ""])
    func bytesAgree(text: String) {
        var bytes: [UInt8] = []
        JSONText.appendQuoted(text, to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == JSONText.quoted(text))
    }
}
