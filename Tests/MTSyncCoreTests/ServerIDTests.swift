import Foundation
import MTSyncCore
import Testing

@Suite("Server ids")
struct ServerIDTests {
    @Test("valid ids are kept as given", arguments: ["live-mt5", "MT4.Demo_2", "a", String(repeating: "z", count: 64)])
    func valid(raw: String) throws {
        #expect(try ServerID(raw).rawValue == raw)
    }

    @Test("invalid ids are refused with the rule", arguments: ["", "-x", "_x", "a b", "a/b", "a:b", "ünï", String(repeating: "z", count: 65)])
    func invalid(raw: String) {
        #expect {
            try ServerID(raw)
        } throws: { error in
            "\(error)".contains("1 to 64 letters")
        }
    }

    @Test("JSON decoding applies the same rule")
    func decoding() throws {
        let decoded = try JSONDecoder().decode([ServerID].self, from: Data(#"["live-mt5"]"#.utf8))
        #expect(decoded.map(\.rawValue) == ["live-mt5"])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([ServerID].self, from: Data(#"["a:b"]"#.utf8)) }
    }

    @Test("stream names are the database's")
    func streamNames() {
        #expect(SyncStream.allCases.map(\.rawValue) == ["deals", "trades", "open_trades", "accounts", "changes", "symbols", "daily"])
        #expect(Platform.allCases.map(\.rawValue) == ["mt4", "mt5"])
    }
}
