import MTSyncIngest

/// The SQS actions only the tests use — reading a queue back and naming one — kept out of the product
/// (`SQSProtocol` in MTSyncIngest has what mtsync sends and the benchmark's CreateQueue).
extension SQSProtocol {
    public enum GetQueueUrl: Action {
        public static let name = "GetQueueUrl"
        public struct Request: Encodable, Sendable, Hashable {
            public var QueueName: String
            public var QueueOwnerAWSAccountId: String?
            public init(queueName: String, ownerAccountID: String? = nil) {
                self.QueueName = queueName
                self.QueueOwnerAWSAccountId = ownerAccountID
            }
        }
        public struct Response: Decodable, Sendable, Hashable {
            public var QueueUrl: String
        }
    }

    public enum ReceiveMessage: Action {
        public static let name = "ReceiveMessage"
        public struct Request: Encodable, Sendable, Hashable {
            public var QueueUrl: String
            public var MaxNumberOfMessages: Int?
            public var WaitTimeSeconds: Int?
            public var VisibilityTimeout: Int?
            public var MessageSystemAttributeNames: [String]?
            public init(queueURL: String, maxNumberOfMessages: Int? = 10, waitTimeSeconds: Int? = nil, visibilityTimeout: Int? = nil,
                        systemAttributeNames: [String]? = ["All"]) {
                self.QueueUrl = queueURL
                self.MaxNumberOfMessages = maxNumberOfMessages
                self.WaitTimeSeconds = waitTimeSeconds
                self.VisibilityTimeout = visibilityTimeout
                self.MessageSystemAttributeNames = systemAttributeNames
            }
        }
        public struct Response: Decodable, Sendable, Hashable {
            public var Messages: [Message]
            public init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                Messages = try container.decodeIfPresent([Message].self, forKey: .Messages) ?? []
            }
            enum CodingKeys: String, CodingKey { case Messages }
        }
        public struct Message: Decodable, Sendable, Hashable {
            public var MessageId: String
            public var ReceiptHandle: String
            public var MD5OfBody: String
            public var Body: String
            /// System attributes: `MessageGroupId`, `MessageDeduplicationId`, `SequenceNumber`, …
            public var Attributes: [String: String]?
        }
    }

    public enum DeleteMessageBatch: Action {
        public static let name = "DeleteMessageBatch"
        public struct Request: Encodable, Sendable, Hashable {
            public var QueueUrl: String
            public var Entries: [Entry]
            public init(queueURL: String, entries: [Entry]) {
                self.QueueUrl = queueURL
                self.Entries = entries
            }
        }
        public struct Entry: Encodable, Sendable, Hashable {
            public var Id: String
            public var ReceiptHandle: String
            public init(id: String, receiptHandle: String) {
                self.Id = id
                self.ReceiptHandle = receiptHandle
            }
        }
        public struct Response: Decodable, Sendable, Hashable {
            public var Failed: [SendMessageBatch.Failure]
            public init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                Failed = try container.decodeIfPresent([SendMessageBatch.Failure].self, forKey: .Failed) ?? []
            }
            enum CodingKeys: String, CodingKey { case Failed }
        }
    }
}
