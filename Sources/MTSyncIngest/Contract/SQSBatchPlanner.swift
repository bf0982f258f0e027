import Crypto
import Foundation
import MTSyncCore

/// The pure half of the SQS sink: which messages SQS would refuse anyway, how the rest are cut into
/// `SendMessageBatch` calls, and what each entry's result means for its message. No I/O, so every rule is tested
/// without a queue.
public struct SQSBatchPlanner: Sendable {
    /// SendMessageBatch takes at most 10 entries (`TooManyEntriesInBatchRequest`).
    public static let maximumEntriesPerBatch = 10
    /// `MessageGroupId` and `MessageDeduplicationId`: at most 128 characters.
    public static let maximumIdentifierLength = 128

    /// The queue's `MaximumMessageSize`: the largest body, and the largest sum of bodies in one call (AWS:
    /// "the maximum total payload size (the sum of the individual lengths of all of the batched messages)").
    public var maximumBytes: Int
    public var isFIFO: Bool
    /// A FIFO group for a message that has none (packed without grouping): the envelope's server, else this.
    public var fallbackGroupID: String

    public init(maximumBytes: Int, isFIFO: Bool, fallbackGroupID: String = "mtsync") {
        self.maximumBytes = maximumBytes
        self.isFIFO = isFIFO
        self.fallbackGroupID = fallbackGroupID
    }

    /// One SendMessageBatch call: the entries and, for each, the index of its message in the delivered list.
    public struct Batch: Sendable, Hashable {
        public var messageIndices: [Int]
        public var entries: [SQSProtocol.SendMessageBatch.Entry]
        public var byteCount: Int

        public init(messageIndices: [Int], entries: [SQSProtocol.SendMessageBatch.Entry], byteCount: Int) {
            self.messageIndices = messageIndices
            self.entries = entries
            self.byteCount = byteCount
        }
    }

    public struct Plan: Sendable, Hashable {
        public var batches: [Batch]
        /// Messages refused before sending, by index.
        public var rejected: [Int: DeliveryOutcome]
    }

    /// The calls for `messages`, in order: greedy, so a call holds as many consecutive messages as fit (10 entries,
    /// `maximumBytes` in all). FIFO order within a group is kept because calls are made in this order, one at a
    /// time, and SQS keeps a call's entries in order.
    public func plan(_ messages: [IngestMessage]) -> Plan {
        var batches: [Batch] = []
        var rejected: [Int: DeliveryOutcome] = [:]
        var current = Batch(messageIndices: [], entries: [], byteCount: 0)
        for (index, message) in messages.enumerated() {
            if let reason = refusal(of: message) {
                rejected[index] = .rejected(reason: reason, response: "")
                continue
            }
            let size = message.byteCount
            if !current.entries.isEmpty,
               current.entries.count >= Self.maximumEntriesPerBatch || current.byteCount + size > maximumBytes {
                batches.append(current)
                current = Batch(messageIndices: [], entries: [], byteCount: 0)
            }
            // The message's index is its entry Id: unique within the call, digits only, well under 80 characters.
            var entry = SQSProtocol.SendMessageBatch.Entry(id: String(index), body: message.body)
            if isFIFO {
                entry.MessageGroupId = groupID(of: message)
                entry.MessageDeduplicationId = message.key
            }
            current.messageIndices.append(index)
            current.entries.append(entry)
            current.byteCount += size
        }
        if !current.entries.isEmpty { batches.append(current) }
        return Plan(batches: batches, rejected: rejected)
    }

    /// Why SQS would refuse `message` for good, or nil. Sending it would only earn a `SenderFault` (or fail the
    /// whole call), so it is dead-lettered at once with a reason an operator can act on.
    public func refusal(of message: IngestMessage) -> String? {
        if message.byteCount > maximumBytes {
            return "the message body is \(message.byteCount) bytes, over the queue's MaximumMessageSize of \(maximumBytes) bytes; raise MaximumMessageSize (up to 1048576) or pack fewer facts per message"
        }
        if message.body.isEmpty { return "the message body is empty, which SQS refuses" }
        if let (scalar, offset) = Self.firstInvalidCharacter(in: message.body) {
            return String(format: "the message body has character U+%04X at byte %d, which SQS refuses (allowed: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF); the fact carrying it must be fixed or escaped at the source", scalar.value, offset)
        }
        if isFIFO {
            let group = groupID(of: message)
            if let problem = Self.identifierProblem(group) { return "its MessageGroupId \"\(group)\" \(problem)" }
            if let problem = Self.identifierProblem(message.key) { return "its MessageDeduplicationId \"\(message.key)\" \(problem)" }
        }
        return nil
    }

    /// The first Unicode scalar outside SQS's allowed set, with its UTF-8 byte offset. (Swift strings hold no
    /// lone surrogates, so D800–DFFF cannot occur.)
    public static func firstInvalidCharacter(in body: String) -> (Unicode.Scalar, Int)? {
        var offset = 0
        for scalar in body.unicodeScalars {
            let value = scalar.value
            let allowed = value == 0x9 || value == 0xA || value == 0xD || (0x20...0xD7FF).contains(value)
                || (0xE000...0xFFFD).contains(value) || (0x10000...0x10FFFF).contains(value)
            if !allowed { return (scalar, offset) }
            offset += UTF8.width(scalar)
        }
        return nil
    }

    /// Group and deduplication ids: 1…128 characters of printable ASCII (alphanumerics and punctuation).
    static func identifierProblem(_ id: String) -> String? {
        if id.isEmpty { return "is empty" }
        if id.utf8.count > maximumIdentifierLength { return "is longer than \(maximumIdentifierLength) characters" }
        if !id.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) { return "has characters other than ASCII letters, digits and punctuation" }
        return nil
    }

    /// The FIFO group: the message's own, else its envelope's server (so one server's events stay in order),
    /// else `fallbackGroupID`.
    public func groupID(of message: IngestMessage) -> String {
        if let group = message.groupID { return group }
        if let object = try? JSONSerialization.jsonObject(with: Data(message.body.utf8)) as? [String: Any],
           let server = object["server"] as? String, !server.isEmpty {
            return server
        }
        return fallbackGroupID
    }

    /// What became of each message of `batch`, from SendMessageBatch's answer. A 200 is not success: only entries
    /// in `Successful[]` whose MD5 matches the body sent are delivered; `Failed[]` entries are retried unless
    /// SQS blames the sender (then dead-lettered with SQS's words); an entry SQS does not mention is retried.
    public static func outcomes(of batch: Batch, response: SQSProtocol.SendMessageBatch.Response) -> [(index: Int, outcome: DeliveryOutcome)] {
        var successes: [String: SQSProtocol.SendMessageBatch.Success] = [:]
        for success in response.Successful { successes[success.Id] = success }
        var failures: [String: SQSProtocol.SendMessageBatch.Failure] = [:]
        for failure in response.Failed { failures[failure.Id] = failure }
        var result: [(index: Int, outcome: DeliveryOutcome)] = []
        for (index, entry) in zip(batch.messageIndices, batch.entries) {
            if let success = successes[entry.Id] {
                let expected = md5Hex(entry.MessageBody)
                if success.MD5OfMessageBody.lowercased() == expected {
                    result.append((index, .delivered))
                } else {
                    // SQS stored something other than what we sent: send again (the consumer dedupes by key).
                    result.append((index, .retry(reason: "SQS acknowledged message \(success.MessageId) with MD5OfMessageBody \(success.MD5OfMessageBody), but the body sent has MD5 \(expected); resending", after: nil)))
                }
            } else if let failure = failures[entry.Id] {
                let what = failure.Code + (failure.Message.map { ": " + $0 } ?? "")
                if failure.SenderFault {
                    result.append((index, .rejected(reason: "SQS refused the message (sender fault) — \(what)", response: failureJSON(failure))))
                } else {
                    result.append((index, .retry(reason: "SQS could not take the message now — \(what)", after: nil)))
                }
            } else {
                result.append((index, .retry(reason: "SQS's SendMessageBatch answer did not mention entry \(entry.Id); resending", after: nil)))
            }
        }
        return result
    }

    /// MD5 of the UTF-8 body, lowercase hex: what SQS returns as `MD5OfMessageBody`.
    public static func md5Hex(_ body: String) -> String {
        Hex.encode(Insecure.MD5.hash(data: Array(body.utf8)))
    }

    static func failureJSON(_ failure: SQSProtocol.SendMessageBatch.Failure) -> String {
        var object: [String: Any] = ["Id": failure.Id, "Code": failure.Code, "SenderFault": failure.SenderFault]
        if let message = failure.Message { object["Message"] = message }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return failure.Code }
        return String(decoding: data, as: UTF8.self)
    }
}
