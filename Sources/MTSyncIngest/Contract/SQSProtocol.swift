import Foundation

/// The Amazon SQS AWS JSON 1.0 protocol: `POST /` with `X-Amz-Target: AmazonSQS.<Action>` and
/// `Content-Type: application/x-amz-json-1.0`, request and response bodies as JSON objects whose member names
/// are the API reference's (`QueueUrl`, `Entries`, `Successful`, …). Only the actions mtsync uses, plus those its
/// tests need to create queues and read messages back.
public enum SQSProtocol {
    public static let contentType = "application/x-amz-json-1.0"
    public static let targetPrefix = "AmazonSQS."

    /// An action: its name (the `X-Amz-Target` suffix) and the shapes of its request and response.
    public protocol Action: Sendable {
        associatedtype Request: Encodable & Sendable
        associatedtype Response: Decodable & Sendable
        static var name: String { get }
    }

    // MARK: SendMessageBatch

    public enum SendMessageBatch: Action {
        public static let name = "SendMessageBatch"

        public struct Request: Encodable, Sendable, Hashable {
            public var QueueUrl: String
            public var Entries: [Entry]
            public init(queueURL: String, entries: [Entry]) {
                self.QueueUrl = queueURL
                self.Entries = entries
            }
        }

        public struct Entry: Encodable, Sendable, Hashable {
            /// Unique within the call, `[A-Za-z0-9_-]{1,80}`: how results are matched to entries.
            public var Id: String
            public var MessageBody: String
            public var MessageGroupId: String?
            public var MessageDeduplicationId: String?
            public init(id: String, body: String, groupID: String? = nil, deduplicationID: String? = nil) {
                self.Id = id
                self.MessageBody = body
                self.MessageGroupId = groupID
                self.MessageDeduplicationId = deduplicationID
            }
        }

        public struct Response: Decodable, Sendable, Hashable {
            public var Successful: [Success]
            public var Failed: [Failure]

            public init(successful: [Success], failed: [Failure]) {
                self.Successful = successful
                self.Failed = failed
            }

            // An empty list may be left out of the response altogether.
            public init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                Successful = try container.decodeIfPresent([Success].self, forKey: .Successful) ?? []
                Failed = try container.decodeIfPresent([Failure].self, forKey: .Failed) ?? []
            }

            enum CodingKeys: String, CodingKey { case Successful, Failed }
        }

        public struct Success: Decodable, Sendable, Hashable {
            public var Id: String
            public var MessageId: String
            public var MD5OfMessageBody: String
            public var SequenceNumber: String?
            public init(id: String, messageID: String, md5OfMessageBody: String, sequenceNumber: String? = nil) {
                self.Id = id
                self.MessageId = messageID
                self.MD5OfMessageBody = md5OfMessageBody
                self.SequenceNumber = sequenceNumber
            }
        }

        public struct Failure: Decodable, Sendable, Hashable {
            public var Id: String
            public var Code: String
            public var Message: String?
            public var SenderFault: Bool
            public init(id: String, code: String, message: String?, senderFault: Bool) {
                self.Id = id
                self.Code = code
                self.Message = message
                self.SenderFault = senderFault
            }
        }
    }

    // MARK: GetQueueAttributes, GetQueueUrl

    public enum GetQueueAttributes: Action {
        public static let name = "GetQueueAttributes"
        public struct Request: Encodable, Sendable, Hashable {
            public var QueueUrl: String
            public var AttributeNames: [String]
            public init(queueURL: String, attributeNames: [String]) {
                self.QueueUrl = queueURL
                self.AttributeNames = attributeNames
            }
        }
        public struct Response: Decodable, Sendable, Hashable {
            /// Every value is a string on the wire, numbers and booleans too (`"262144"`, `"true"`).
            public var Attributes: [String: String]
            public init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                Attributes = try container.decodeIfPresent([String: String].self, forKey: .Attributes) ?? [:]
            }
            enum CodingKeys: String, CodingKey { case Attributes }
        }
    }

    // MARK: For tools: CreateQueue (the benchmark's queue; the tests' other actions are in their support module)

    public enum CreateQueue: Action {
        public static let name = "CreateQueue"
        public struct Request: Encodable, Sendable, Hashable {
            public var QueueName: String
            public var Attributes: [String: String]?
            public init(queueName: String, attributes: [String: String]? = nil) {
                self.QueueName = queueName
                self.Attributes = attributes
            }
        }
        public struct Response: Decodable, Sendable, Hashable {
            public var QueueUrl: String
        }
    }

    // MARK: Encoding and errors

    /// The request body. Keys sorted so the same request always makes the same bytes (and signature).
    public static func encode<Request: Encodable>(_ request: Request) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(request))
    }

    public static func decode<Response: Decodable>(_ type: Response.Type, from body: some Collection<UInt8>) throws -> Response {
        try JSONDecoder().decode(type, from: Data(body))
    }

    /// An error response: `{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "…"}`. The code is the
    /// part after `#`; the `x-amzn-query-error` header (`AWS.SimpleQueueService.NonExistentQueue;Sender`), when
    /// present, names the older query-protocol code and who is at fault.
    public struct ErrorResponse: Sendable, Hashable {
        public var code: String
        public var message: String
        public var queryErrorCode: String?
        public var senderFault: Bool?

        public init(code: String, message: String, queryErrorCode: String? = nil, senderFault: Bool? = nil) {
            self.code = code
            self.message = message
            self.queryErrorCode = queryErrorCode
            self.senderFault = senderFault
        }

        /// Parses the body (and the query-error header); nil when the body is not a JSON error object.
        public static func parse(body: some Collection<UInt8>, queryErrorHeader: String?) -> ErrorResponse? {
            guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
            let type = (object["__type"] as? String) ?? (object["code"] as? String) ?? (object["Code"] as? String)
            guard let type else { return nil }
            let code = type.split(separator: "#").last.map(String.init) ?? type
            let message = (object["message"] as? String) ?? (object["Message"] as? String) ?? ""
            var queryCode: String?
            var senderFault: Bool?
            if let header = queryErrorHeader, !header.isEmpty {
                let parts = header.split(separator: ";", maxSplits: 1)
                queryCode = parts.first.map(String.init)
                if parts.count > 1 { senderFault = parts[1] == "Sender" }
            }
            return ErrorResponse(code: code, message: message, queryErrorCode: queryCode, senderFault: senderFault)
        }

        /// Throttling: back off and try again. SQS says `RequestThrottled` (query code) or `ThrottlingException`
        /// (FIFO, JSON protocol); the in-flight limit `OverLimit` is temporary too.
        public var isThrottling: Bool {
            let codes: Set<String> = ["ThrottlingException", "RequestThrottled", "Throttling", "ThrottledException",
                                      "RequestThrottledException", "TooManyRequestsException", "OverLimit"]
            return codes.contains(code) || queryErrorCode.map { codes.contains($0.replacingOccurrences(of: "AWS.SimpleQueueService.", with: "")) } == true
        }

        /// Server-side trouble worth a retry whatever the status says.
        public var isServerFault: Bool {
            ["InternalError", "InternalFailure", "ServiceUnavailable", "KmsThrottled"].contains(code) || senderFault == false
        }
    }
}
