import Foundation
import MTSyncCore
import Testing

/// The event payload mtsync writes for a stored fact (`TradingFact.eventPayloadHead`, completed by the store with the
/// revision) is the fact's JSON shape (`TradingFact+JSON`) with nulls left out, plus `deleted`, `excluded` and
/// `closed_lots`: valid JSON whatever the bridge put in a text field.
@Suite("A fact's event payload, written by mtsync: the fact's JSON shape, valid whatever the text")
struct EventPayloadTests {
    static let server = try! ServerID("live-mt5")
    static let normalizer = Normalizer(settings: ServerSettings(server: server, platform: .mt5, zone: ServerTimeZone("+02:00")!))

    static func fact(comment: String?, symbol: String = "EURUSD") throws -> TradingFact {
        var fields = [
            "Deal": "9223372036854775807", "Login": "18446744073709551", "Action": "1", "Entry": "1", "TimeMsc": "1735725600123",
            "Symbol": symbol, "VolumeExt": "150000000", "Price": "1.10345", "Profit": "-12.50", "Commission": "-0.70",
            "Order": "700002", "PositionID": "700001", "Reason": "3",
        ]
        fields["Comment"] = comment
        guard case .facts(let facts) = normalizer.normalize(MT5DealRecord(fields: fields)) else {
            throw FixtureError(text: "the fixture deal did not normalize")
        }
        return facts[0]
    }

    struct FixtureError: Error { var text: String }

    /// The payload as the relay sends it at `revision` (`TradingFact.eventPayload`), parsed.
    static func payload(of fact: TradingFact, revision: Int) throws -> [String: Any] {
        var revised = fact
        revised.revision = revision
        let text = revised.eventPayload(contentHash: fact.contentHash)
        #expect(text.hasPrefix(fact.eventPayloadHead(contentHash: fact.contentHash)), "the head, then the revision")
        return try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }

    /// The Swift shape of the same fact at `revision`, nulls left out.
    static func shape(of fact: TradingFact, revision: Int) throws -> [String: Any] {
        var fact = fact
        fact.revision = revision
        let object = try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(fact)) as? [String: Any])
        return object.filter { !($0.value is NSNull) }
    }

    static func text(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
    }

    @Test("equals the fact's JSON shape member by member, whatever the comment holds", arguments: [
        nil, "", "plain", "quote \" and backslash \\", "line\nbreak\ttab\rreturn", "controls \u{1}\u{1f} and DEL \u{7f}",
        "non-ASCII: Ünïcødé €, 中文, 🚀", "separators \u{2028}\u{2029}", "ends with a backslash \\", "{\"json\": [1, 2]}",
    ])
    func equalsShape(comment: String?) throws {
        let fact = try Self.fact(comment: comment)
        let payload = try Self.payload(of: fact, revision: 7)
        let swift = try Self.shape(of: fact, revision: 7)
        #expect(payload["deleted"] as? Bool == false)
        #expect(payload["excluded"] == nil && payload["closed_lots"] == nil)
        let members = payload.filter { !["deleted", "excluded", "closed_lots"].contains($0.key) }
        #expect(Set(members.keys) == Set(swift.keys))
        for (field, value) in swift {
            #expect(try members[field].map(Self.text) == Self.text(value), "\(field)")
        }
        #expect(payload["idempotency_key"] as? String == "live-mt5:9223372036854775807:7")
        #expect(payload["revision"] as? Int == 7)
        #expect(payload["comment"] as? String == fact.comment, "an empty comment is no comment")
    }

    @Test("identifiers are written with all their digits, decimals as exact strings in their canonical form")
    func exactNumbers() throws {
        let text = try Self.fact(comment: nil).eventPayloadHead(contentHash: "00")
        #expect(text.contains(#""deal":9223372036854775807,"#))
        #expect(text.contains(#""login":18446744073709551,"#))
        #expect(text.contains(#""lots":"1.5","#) && text.contains(#""profit":"-12.5","#) && text.contains(#""price":"1.10345","#))
        #expect(text.hasSuffix(#","idempotency_key":"live-mt5:9223372036854775807:"#))
    }

    @Test("an excluded fact is a retraction: deleted, with the reason; an MT4 open leg carries its closed lots")
    func eventOnlyMembers() throws {
        var excluded = try Self.fact(comment: nil)
        excluded.excludedReason = .groupExcluded
        let payload = try Self.payload(of: excluded, revision: 2)
        #expect(payload["deleted"] as? Bool == true)
        #expect(payload["excluded"] as? String == SkipReason.groupExcluded.rawValue)

        var open = try Self.fact(comment: nil)
        open.closedLots = try #require(ExactDecimal(parsing: "0.50"))
        #expect(try Self.payload(of: open, revision: 1)["closed_lots"] as? String == "0.5")
    }
}
