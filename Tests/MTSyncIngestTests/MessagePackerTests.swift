import Foundation
import MTSyncCore
import MTSyncIngest
import Testing

@Suite("Ingest messages: envelope and packing")
struct MessagePackerTests {
    static func event(_ id: Int64, login: Int64 = 1001, payloadBytes: Int = 40) -> IngestEvent {
        let payload = #"{"login":\#(login),"deal":\#(id),"comment":""# + String(repeating: "x", count: payloadBytes) + #""}"#
        return IngestEvent(eventID: id, serverID: "live-mt5", kind: "fact.created", idempotencyKey: "live-mt5:\(id):1", login: login, payloadJSON: payload)
    }

    static let producer = IngestProducer(version: "9.9.9", instance: "host-a")

    @Test("a message is a versioned envelope whose events carry their keys and the stored fact JSON untouched")
    func envelope() throws {
        let packer = MessagePacker(maximumBytes: 1 << 20, producer: Self.producer)
        let messages = packer.pack([Self.event(1), Self.event(2)], server: "live-mt5", platform: .mt5)
        #expect(messages.count == 1)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(messages[0].body.utf8)) as? [String: Any])
        #expect(json["schema"] as? String == "mtsync.ingest")
        #expect(json["schema_version"] as? Int == 1)
        #expect(json["server"] as? String == "live-mt5")
        #expect(json["platform"] as? String == "mt5")
        #expect(json["backfill"] as? Bool == false)
        #expect(json["message_key"] as? String == messages[0].key)
        #expect((json["producer"] as? [String: String]) == ["name": "mtsync", "version": "9.9.9", "instance": "host-a"])
        let events = try #require(json["events"] as? [[String: Any]])
        #expect(events.map { $0["idempotency_key"] as? String } == ["live-mt5:1:1", "live-mt5:2:1"])
        #expect(events.allSatisfy { $0["kind"] as? String == "fact.created" })
        #expect(messages[0].eventIDs == [1, 2])
    }

    @Test("the message key depends only on the events' keys: a resend of the same events has the same key")
    func stableKeys() {
        let packer = MessagePacker(maximumBytes: 1 << 20, producer: Self.producer)
        let first = packer.pack([Self.event(1), Self.event(2)], server: "live-mt5", platform: .mt5)
        let other = MessagePacker(maximumBytes: 1 << 20, producer: IngestProducer(instance: "host-b"))
            .pack([Self.event(1), Self.event(2)], server: "live-mt5", platform: .mt5)
        #expect(first[0].key == other[0].key)
        #expect(first[0].key != packer.pack([Self.event(1)], server: "live-mt5", platform: .mt5)[0].key)
        #expect(first[0].key.count <= 128)  // SQS FIFO MessageDeduplicationId limit
    }

    @Test("messages are packed densely and never exceed the size limit", arguments: [1_024, 4_096, 262_144])
    func sizeLimit(limit: Int) {
        let events = (1...500).map { Self.event(Int64($0), payloadBytes: Int($0 % 97)) }
        let messages = MessagePacker(maximumBytes: limit, producer: Self.producer).pack(events, server: "live-mt5", platform: .mt5)
        #expect(messages.allSatisfy { $0.byteCount <= limit })
        #expect(messages.flatMap(\.eventIDs) == events.map(\.eventID))
        // Dense: adding the next message's first event to any message would have broken the limit.
        for (message, next) in zip(messages, messages.dropFirst()) {
            let nextEvent = events.first { $0.eventID == next.eventIDs[0] }!
            let grown = MessagePacker(maximumBytes: .max, producer: Self.producer)
                .pack(events.filter { message.eventIDs.contains($0.eventID) } + [nextEvent], server: "live-mt5", platform: .mt5)
            #expect(grown[0].byteCount > limit || message.eventIDs.count >= 1_000)
        }
    }

    @Test("FIFO grouping by server:login keeps each trader's events in order in their own messages")
    func fifoGroups() {
        let events = (1...30).map { Self.event(Int64($0), login: Int64(1000 + $0 % 3)) }
        let messages = MessagePacker(maximumBytes: 600, grouping: .serverLogin, producer: Self.producer).pack(events, server: "live-mt5", platform: .mt5)
        for login in 1000...1002 {
            let group = messages.filter { $0.groupID == "live-mt5:\(login)" }
            #expect(group.flatMap(\.eventIDs) == events.filter { $0.login == Int64(login) }.map(\.eventID))
        }
        #expect(Set(messages.compactMap(\.groupID)).count == 3)
    }

    @Test("an event bigger than any message travels alone rather than being dropped")
    func oversizeEvent() {
        let events = [Self.event(1), Self.event(2, payloadBytes: 5_000), Self.event(3)]
        let messages = MessagePacker(maximumBytes: 1_024, producer: Self.producer).pack(events, server: "live-mt5", platform: .mt5)
        #expect(messages.map(\.eventIDs) == [[1], [2], [3]])
    }

    @Test("live and backfill events never share a message; each run of one origin keeps its place in outbox order")
    func backfillRuns() throws {
        var events = (1...6).map { Self.event(Int64($0)) }
        for index in [2, 3, 5] { events[index].backfill = true }
        let messages = MessagePacker(maximumBytes: 1 << 20, producer: Self.producer).pack(events, server: "live-mt5", platform: .mt5)
        #expect(messages.map(\.eventIDs) == [[1, 2], [3, 4], [5], [6]])
        let flags = try messages.map { message in
            try #require(try JSONSerialization.jsonObject(with: Data(message.body.utf8)) as? [String: Any])["backfill"] as? Bool
        }
        #expect(flags == [false, true, false, true])
    }

    @Test("each event's payload member is named after its kind", arguments: [
        ("fact.created", "fact"), ("fact.deleted", "fact"), ("aggregate.hourly", "aggregate"), ("backfill.started", "backfill"), ("backfill.completed", "backfill"),
    ])
    func payloadMember(kind: String, member: String) throws {
        var event = Self.event(1)
        event.kind = kind
        let body = MessagePacker(maximumBytes: 1 << 20, producer: Self.producer).pack([event], server: "live-mt5", platform: .mt5)[0].body
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        let first = try #require((json["events"] as? [[String: Any]])?.first)
        #expect(first[member] is [String: Any])
        #expect(Set(first.keys) == ["idempotency_key", "kind", member])
    }
}
