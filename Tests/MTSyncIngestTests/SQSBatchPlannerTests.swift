import Foundation
import MTSyncIngest
import Testing

@Suite("SQS batch planning: what SQS would refuse, how calls are cut, what each entry's answer means")
struct SQSBatchPlannerTests {
    /// A message whose body is an envelope-like JSON object of `server`, padded to about `bytes`.
    static func message(_ number: Int, bytes: Int = 100, server: String? = "live-mt5", group: String? = nil) -> IngestMessage {
        var object = #"{"events":[],"message_key":"v1-\#(number)","#
        if let server { object += #""server":"\#(server)","# }
        object += #""pad":""#
        object += String(repeating: "x", count: max(0, bytes - object.utf8.count - 2)) + #""}"#
        return IngestMessage(key: "v1-\(number)", groupID: group, body: object, eventIDs: [Int64(number)])
    }

    enum Fate: Hashable, CustomTestStringConvertible {
        case delivered, retry, rejected
        init(_ outcome: DeliveryOutcome) {
            switch outcome {
            case .delivered: self = .delivered
            case .retry: self = .retry
            case .rejected: self = .rejected
            }
        }
        var testDescription: String { "\(self)" }
    }

    // MARK: Cutting calls

    @Test("a call holds at most 10 entries; messages keep their order and their index is the entry Id")
    func tenEntriesPerCall() {
        let messages = (0..<25).map { Self.message($0) }
        let plan = SQSBatchPlanner(maximumBytes: 262_144, isFIFO: false).plan(messages)
        #expect(plan.rejected.isEmpty)
        #expect(plan.batches.map(\.entries.count) == [10, 10, 5])
        #expect(plan.batches.flatMap(\.messageIndices) == Array(0..<25))
        #expect(plan.batches.flatMap(\.entries).map(\.Id) == (0..<25).map(String.init))
        #expect(plan.batches.flatMap(\.entries).map(\.MessageBody) == messages.map(\.body))
        #expect(plan.batches.allSatisfy { $0.entries.count <= SQSBatchPlanner.maximumEntriesPerBatch })
    }

    @Test("a call's bodies add up to at most the queue's MaximumMessageSize, and each call is as full as the next message allows",
          arguments: [
              (1_024, [100, 300, 500, 200, 900, 1_024, 100, 100, 1_000, 824, 200]),
              (4_096, Array(repeating: 1_000, count: 17)),
              (262_144, Array(repeating: 60_000, count: 9) + Array(repeating: 100, count: 30)),
          ])
    func byteLimit(maximumBytes: Int, sizes: [Int]) throws {
        let messages = sizes.enumerated().map { Self.message($0.offset, bytes: $0.element) }
        #expect(zip(messages, sizes).allSatisfy { $0.byteCount == $1 })
        let plan = SQSBatchPlanner(maximumBytes: maximumBytes, isFIFO: false).plan(messages)
        #expect(plan.rejected.isEmpty)
        #expect(plan.batches.flatMap(\.messageIndices) == Array(messages.indices))
        for batch in plan.batches {
            #expect(batch.byteCount <= maximumBytes)
            #expect(batch.byteCount == batch.messageIndices.map { sizes[$0] }.reduce(0, +))
        }
        for (batch, next) in zip(plan.batches, plan.batches.dropFirst()) {
            let nextSize = sizes[try #require(next.messageIndices.first)]
            #expect(batch.byteCount + nextSize > maximumBytes || batch.entries.count == SQSBatchPlanner.maximumEntriesPerBatch)
        }
    }

    @Test("a message over MaximumMessageSize is rejected before sending, with the sizes, and the others still go")
    func oversizeMessage() throws {
        let messages = [Self.message(0), Self.message(1, bytes: 2_000), Self.message(2)]
        let plan = SQSBatchPlanner(maximumBytes: 1_024, isFIFO: false).plan(messages)
        #expect(plan.batches.flatMap(\.messageIndices) == [0, 2])
        #expect(plan.batches.flatMap(\.entries).map(\.Id) == ["0", "2"])
        guard case .rejected(let reason, let response) = try #require(plan.rejected[1]) else {
            Issue.record("message 1 should be rejected: \(plan.rejected)")
            return
        }
        #expect(reason.contains("2000 bytes, over the queue's MaximumMessageSize of 1024 bytes"))
        #expect(response == "")
    }

    @Test("a body with a character SQS refuses is rejected, naming the character and its byte offset", arguments: [
        ("\u{0}", "U+0000"), ("\u{8}", "U+0008"), ("\u{B}", "U+000B"), ("\u{C}", "U+000C"), ("\u{1F}", "U+001F"),
        ("\u{FFFE}", "U+FFFE"), ("\u{FFFF}", "U+FFFF"),
    ])
    func invalidCharacter(character: String, name: String) throws {
        let body = #"{"server":"caf\#u{E9}","text":""# + character + #""}"#
        let offset = #"{"server":"caf\#u{E9}","text":""#.utf8.count
        let message = IngestMessage(key: "v1-0", groupID: nil, body: body, eventIDs: [0])
        let planner = SQSBatchPlanner(maximumBytes: 262_144, isFIFO: false)
        let reason = try #require(planner.refusal(of: message))
        #expect(reason.hasPrefix("the message body has character \(name) at byte \(offset), which SQS refuses"))
        #expect(planner.plan([message]).batches.isEmpty)
        #expect(planner.plan([message]).rejected[0] == .rejected(reason: reason, response: ""))
    }

    @Test("characters SQS allows pass, including tab, line breaks and the edges of the allowed ranges", arguments: [
        "\t", "\n", "\r", " ", "\u{D7FF}", "\u{E000}", "\u{FFFD}", "\u{10000}", "\u{10FFFF}", "caf\u{E9} \u{1234} \u{1F600}",
    ])
    func allowedCharacters(text: String) {
        #expect(SQSBatchPlanner.firstInvalidCharacter(in: "a" + text + "b") == nil)
        let message = IngestMessage(key: "v1-0", groupID: nil, body: #"{"text":""# + text + #""}"#, eventIDs: [0])
        #expect(SQSBatchPlanner(maximumBytes: 262_144, isFIFO: true).refusal(of: message) == nil)
    }

    @Test("an empty body is rejected")
    func emptyBody() {
        let message = IngestMessage(key: "v1-0", groupID: nil, body: "", eventIDs: [])
        #expect(SQSBatchPlanner(maximumBytes: 1_024, isFIFO: false).refusal(of: message) == "the message body is empty, which SQS refuses")
    }

    // MARK: FIFO

    @Test("FIFO entries carry the message's group, else its envelope's server, else the fallback; and its key as deduplication id",
          arguments: [
              (SQSBatchPlannerTests.message(0, group: "live-mt5:1001"), "live-mt5:1001"),
              (SQSBatchPlannerTests.message(1, server: "demo-mt4"), "demo-mt4"),
              (SQSBatchPlannerTests.message(2, server: nil), "fallback-group"),
              (IngestMessage(key: "v1-3", groupID: nil, body: "not json", eventIDs: [3]), "fallback-group"),
          ])
    func fifoIdentifiers(message: IngestMessage, group: String) throws {
        let planner = SQSBatchPlanner(maximumBytes: 262_144, isFIFO: true, fallbackGroupID: "fallback-group")
        #expect(planner.groupID(of: message) == group)
        let entry = try #require(planner.plan([message]).batches.first?.entries.first)
        #expect(entry.MessageGroupId == group)
        #expect(entry.MessageDeduplicationId == message.key)
    }

    @Test("standard-queue entries carry neither a group nor a deduplication id")
    func standardQueueIdentifiers() throws {
        let entry = try #require(SQSBatchPlanner(maximumBytes: 262_144, isFIFO: false).plan([Self.message(0, group: "g")]).batches.first?.entries.first)
        #expect(entry.MessageGroupId == nil)
        #expect(entry.MessageDeduplicationId == nil)
    }

    @Test("a FIFO group or deduplication id SQS would refuse is rejected before sending", arguments: [
        (IngestMessage(key: "v1-0", groupID: String(repeating: "g", count: 129), body: "{}", eventIDs: [0]), "MessageGroupId", "is longer than 128 characters"),
        (IngestMessage(key: "v1-0", groupID: "live mt5", body: "{}", eventIDs: [0]), "MessageGroupId", "has characters other than ASCII"),
        (IngestMessage(key: "v1-0", groupID: "caf\u{E9}", body: "{}", eventIDs: [0]), "MessageGroupId", "has characters other than ASCII"),
        (IngestMessage(key: "", groupID: "g", body: "{}", eventIDs: [0]), "MessageDeduplicationId", "is empty"),
        (IngestMessage(key: String(repeating: "k", count: 129), groupID: "g", body: "{}", eventIDs: [0]), "MessageDeduplicationId", "is longer than 128 characters"),
    ])
    func fifoIdentifierRefused(message: IngestMessage, field: String, problem: String) throws {
        let reason = try #require(SQSBatchPlanner(maximumBytes: 262_144, isFIFO: true).refusal(of: message))
        #expect(reason.hasPrefix("its \(field) "))
        #expect(reason.contains(problem))
        #expect(SQSBatchPlanner(maximumBytes: 262_144, isFIFO: false).refusal(of: message) == nil)
    }

    @Test("identifiers of exactly 128 printable ASCII characters are accepted")
    func fifoIdentifierLimit() {
        let message = IngestMessage(key: String(repeating: "k", count: 128), groupID: String(repeating: "!", count: 64) + String(repeating: "~", count: 64), body: "{}", eventIDs: [0])
        #expect(SQSBatchPlanner(maximumBytes: 262_144, isFIFO: true).refusal(of: message) == nil)
    }

    // MARK: Reading SendMessageBatch's answer

    enum Answer: String, CaseIterable, Sendable {
        case successfulWithMatchingMD5, successfulWithUppercaseMD5, successfulWithOtherMD5, failedSenderFault, failedNotSenderFault, notMentioned
    }

    @Test("each entry's fate follows SendMessageBatch's answer: only a Successful entry with the body's MD5 is delivered", arguments: [
        (Answer.successfulWithMatchingMD5, Fate.delivered),
        (.successfulWithUppercaseMD5, .delivered),
        (.successfulWithOtherMD5, .retry),
        (.failedSenderFault, .rejected),
        (.failedNotSenderFault, .retry),
        (.notMentioned, .retry),
    ])
    func outcome(answer: Answer, fate: Fate) throws {
        let messages = [Self.message(0), Self.message(1)]
        let batch = try #require(SQSBatchPlanner(maximumBytes: 262_144, isFIFO: false).plan(messages).batches.first)
        // Entry 0 is always delivered; entry 1 gets the answer under test.
        let md5 = SQSBatchPlanner.md5Hex(messages[1].body)
        var successful = [SQSProtocol.SendMessageBatch.Success(id: "0", messageID: "m-0", md5OfMessageBody: SQSBatchPlanner.md5Hex(messages[0].body))]
        var failed: [SQSProtocol.SendMessageBatch.Failure] = []
        switch answer {
        case .successfulWithMatchingMD5: successful.append(.init(id: "1", messageID: "m-1", md5OfMessageBody: md5))
        case .successfulWithUppercaseMD5: successful.append(.init(id: "1", messageID: "m-1", md5OfMessageBody: md5.uppercased()))
        case .successfulWithOtherMD5: successful.append(.init(id: "1", messageID: "m-1", md5OfMessageBody: SQSBatchPlanner.md5Hex("other")))
        case .failedSenderFault: failed.append(.init(id: "1", code: "InvalidParameterValue", message: "Value too long", senderFault: true))
        case .failedNotSenderFault: failed.append(.init(id: "1", code: "InternalError", message: nil, senderFault: false))
        case .notMentioned: break
        }
        let outcomes = SQSBatchPlanner.outcomes(of: batch, response: .init(successful: successful, failed: failed))
        #expect(outcomes.map(\.index) == [0, 1])
        #expect(outcomes[0].outcome == .delivered)
        #expect(Fate(outcomes[1].outcome) == fate)
    }

    @Test("the reasons say what SQS answered, and a sender fault keeps SQS's answer as JSON for the dead letter")
    func outcomeReasons() throws {
        let messages = (0..<4).map { Self.message($0) }
        let batch = try #require(SQSBatchPlanner(maximumBytes: 262_144, isFIFO: false).plan(messages).batches.first)
        let response = SQSProtocol.SendMessageBatch.Response(
            successful: [.init(id: "0", messageID: "m-0", md5OfMessageBody: "00000000000000000000000000000000")],
            failed: [
                .init(id: "1", code: "InvalidMessageContents", message: "Invalid binary character", senderFault: true),
                .init(id: "2", code: "ServiceUnavailable", message: nil, senderFault: false),
            ])
        let outcomes = SQSBatchPlanner.outcomes(of: batch, response: response).map(\.outcome)
        let expectedMD5 = SQSBatchPlanner.md5Hex(messages[0].body)
        #expect(outcomes == [
            .retry(reason: "SQS acknowledged message m-0 with MD5OfMessageBody 00000000000000000000000000000000, but the body sent has MD5 \(expectedMD5); resending", after: nil),
            .rejected(
                reason: "SQS refused the message (sender fault) — InvalidMessageContents: Invalid binary character",
                response: #"{"Code":"InvalidMessageContents","Id":"1","Message":"Invalid binary character","SenderFault":true}"#),
            .retry(reason: "SQS could not take the message now — ServiceUnavailable", after: nil),
            .retry(reason: "SQS's SendMessageBatch answer did not mention entry 3; resending", after: nil),
        ])
    }

    @Test("outcomes name the messages' indices in the delivered list, not their place in the call")
    func outcomeIndices() throws {
        let messages = [Self.message(0, bytes: 5_000)] + (1...12).map { Self.message($0) }
        let plan = SQSBatchPlanner(maximumBytes: 1_024, isFIFO: false).plan(messages)
        let second = try #require(plan.batches.dropFirst().first)
        let successful = second.entries.map { SQSProtocol.SendMessageBatch.Success(id: $0.Id, messageID: "m", md5OfMessageBody: SQSBatchPlanner.md5Hex($0.MessageBody)) }
        let outcomes = SQSBatchPlanner.outcomes(of: second, response: .init(successful: successful, failed: []))
        #expect(outcomes.map(\.index) == second.messageIndices)
        #expect(outcomes.allSatisfy { $0.outcome == .delivered })
        #expect(second.messageIndices.first == 11)
    }

    @Test("MD5OfMessageBody is the lower-case hex MD5 of the body's UTF-8", arguments: [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("hello", "5d41402abc4b2a76b9719d911017c592"),
    ])
    func md5(body: String, hex: String) {
        #expect(SQSBatchPlanner.md5Hex(body) == hex)
    }
}
