import Foundation
import MTSyncIngest
import Testing

@Suite("The SQS JSON 1.0 protocol: request bodies, responses and errors")
struct SQSProtocolTests {
    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: Requests

    @Test("a SendMessageBatch body is compact JSON with sorted keys, unescaped slashes and no absent members")
    func sendMessageBatchBody() throws {
        let request = SQSProtocol.SendMessageBatch.Request(
            queueURL: "https://sqs.eu-west-1.amazonaws.com/000000000000/mtsync-facts.fifo",
            entries: [
                .init(id: "0", body: #"{"server":"live-mt5","text":"caf\#u{E9}"}"#, groupID: "live-mt5:1001", deduplicationID: "v1-abc"),
                .init(id: "1", body: "line\nbreak \"quoted\" a/b"),
            ])
        let expected = #"{"Entries":[{"Id":"0","MessageBody":"{\"server\":\"live-mt5\",\"text\":\"caf\#u{E9}\"}","#
            + #""MessageDeduplicationId":"v1-abc","MessageGroupId":"live-mt5:1001"},"#
            + #"{"Id":"1","MessageBody":"line\nbreak \"quoted\" a/b"}],"#
            + #""QueueUrl":"https://sqs.eu-west-1.amazonaws.com/000000000000/mtsync-facts.fifo"}"#
        #expect(Self.text(try SQSProtocol.encode(request)) == expected)
        // The same request always makes the same bytes (and so the same signature).
        #expect(try SQSProtocol.encode(request) == SQSProtocol.encode(request))
    }

    @Test("the other requests encode the API reference's member names", arguments: [
        (try SQSProtocol.encode(SQSProtocol.GetQueueUrl.Request(queueName: "mtsync-facts")), #"{"QueueName":"mtsync-facts"}"#),
        (try SQSProtocol.encode(SQSProtocol.GetQueueUrl.Request(queueName: "q", ownerAccountID: "000000000000")),
         #"{"QueueName":"q","QueueOwnerAWSAccountId":"000000000000"}"#),
        (try SQSProtocol.encode(SQSProtocol.GetQueueAttributes.Request(queueURL: "http://localhost:4566/000000000000/q", attributeNames: ["MaximumMessageSize", "FifoQueue"])),
         #"{"AttributeNames":["MaximumMessageSize","FifoQueue"],"QueueUrl":"http://localhost:4566/000000000000/q"}"#),
        (try SQSProtocol.encode(SQSProtocol.DeleteMessageBatch.Request(queueURL: "q", entries: [.init(id: "0", receiptHandle: "AQEB+/==")])),
         #"{"Entries":[{"Id":"0","ReceiptHandle":"AQEB+/=="}],"QueueUrl":"q"}"#),
    ])
    func otherRequests(body: [UInt8], expected: String) {
        #expect(Self.text(body) == expected)
    }

    @Test("each action's X-Amz-Target is AmazonSQS. and its name, posted as application/x-amz-json-1.0", arguments: [
        (SQSProtocol.SendMessageBatch.name, "AmazonSQS.SendMessageBatch"),
        (SQSProtocol.GetQueueAttributes.name, "AmazonSQS.GetQueueAttributes"),
        (SQSProtocol.GetQueueUrl.name, "AmazonSQS.GetQueueUrl"),
        (SQSProtocol.CreateQueue.name, "AmazonSQS.CreateQueue"),
        (SQSProtocol.ReceiveMessage.name, "AmazonSQS.ReceiveMessage"),
        (SQSProtocol.DeleteMessageBatch.name, "AmazonSQS.DeleteMessageBatch"),
    ])
    func targets(name: String, target: String) {
        #expect(SQSProtocol.targetPrefix + name == target)
        #expect(SQSProtocol.contentType == "application/x-amz-json-1.0")
    }

    // MARK: Responses

    @Test("a SendMessageBatch answer may leave out either list", arguments: [
        ("{}", 0, 0),
        (#"{"Successful":[{"Id":"0","MessageId":"m-0","MD5OfMessageBody":"d41d8cd98f00b204e9800998ecf8427e"}]}"#, 1, 0),
        (#"{"Failed":[{"Id":"0","Code":"InternalError","SenderFault":false}]}"#, 0, 1),
        (#"{"Successful":[],"Failed":[]}"#, 0, 0),
    ])
    func sendMessageBatchResponse(json: String, successful: Int, failed: Int) throws {
        let response = try SQSProtocol.decode(SQSProtocol.SendMessageBatch.Response.self, from: Array(json.utf8))
        #expect(response.Successful.count == successful)
        #expect(response.Failed.count == failed)
    }

    @Test("a SendMessageBatch answer's entries decode with every member, the optional ones absent or present")
    func sendMessageBatchEntries() throws {
        let json = #"""
            {"Successful":[{"Id":"0","MessageId":"m-0","MD5OfMessageBody":"abc","SequenceNumber":"18849496460467696128"},
                           {"Id":"1","MessageId":"m-1","MD5OfMessageBody":"def"}],
             "Failed":[{"Id":"2","Code":"InvalidParameterValue","Message":"too long","SenderFault":true},
                       {"Id":"3","Code":"InternalError","SenderFault":false}]}
            """#
        let response = try SQSProtocol.decode(SQSProtocol.SendMessageBatch.Response.self, from: Array(json.utf8))
        #expect(response == SQSProtocol.SendMessageBatch.Response(
            successful: [
                .init(id: "0", messageID: "m-0", md5OfMessageBody: "abc", sequenceNumber: "18849496460467696128"),
                .init(id: "1", messageID: "m-1", md5OfMessageBody: "def"),
            ],
            failed: [
                .init(id: "2", code: "InvalidParameterValue", message: "too long", senderFault: true),
                .init(id: "3", code: "InternalError", message: nil, senderFault: false),
            ]))
    }

    @Test("the other answers decode an empty object as empty")
    func emptyAnswers() throws {
        #expect(try SQSProtocol.decode(SQSProtocol.GetQueueAttributes.Response.self, from: Array("{}".utf8)).Attributes == [:])
        #expect(try SQSProtocol.decode(SQSProtocol.ReceiveMessage.Response.self, from: Array("{}".utf8)).Messages == [])
        #expect(try SQSProtocol.decode(SQSProtocol.DeleteMessageBatch.Response.self, from: Array("{}".utf8)).Failed == [])
        let attributes = try SQSProtocol.decode(
            SQSProtocol.GetQueueAttributes.Response.self, from: Array(#"{"Attributes":{"MaximumMessageSize":"262144","FifoQueue":"true"}}"#.utf8))
        #expect(attributes.Attributes == ["MaximumMessageSize": "262144", "FifoQueue": "true"])
    }

    @Test("a body that is not the answer's shape is a decoding error", arguments: ["", "[]", #"{"Successful":"none"}"#])
    func malformedAnswer(json: String) {
        #expect(throws: (any Error).self) { try SQSProtocol.decode(SQSProtocol.SendMessageBatch.Response.self, from: Array(json.utf8)) }
    }

    // MARK: Errors

    @Test("an error answer gives the code after '#', the message, and the query-error header's code and fault")
    func queueDoesNotExist() throws {
        let body = #"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#
        let error = try #require(SQSProtocol.ErrorResponse.parse(
            body: Array(body.utf8), queryErrorHeader: "AWS.SimpleQueueService.NonExistentQueue;Sender"))
        #expect(error == SQSProtocol.ErrorResponse(
            code: "QueueDoesNotExist", message: "The specified queue does not exist.",
            queryErrorCode: "AWS.SimpleQueueService.NonExistentQueue", senderFault: true))
        #expect(!error.isThrottling)
        #expect(!error.isServerFault)
    }

    @Test("error answers in the other spellings parse too", arguments: [
        (#"{"__type":"InvalidAddress","message":"bad"}"#, nil, SQSProtocol.ErrorResponse(code: "InvalidAddress", message: "bad")),
        (#"{"code":"AccessDenied","Message":"no"}"#, "", SQSProtocol.ErrorResponse(code: "AccessDenied", message: "no")),
        (#"{"Code":"InternalError"}"#, "InternalError;Receiver",
         SQSProtocol.ErrorResponse(code: "InternalError", message: "", queryErrorCode: "InternalError", senderFault: false)),
        (#"{"__type":"com.amazonaws.sqs#OverLimit","message":"m"}"#, "AWS.SimpleQueueService.OverLimit",
         SQSProtocol.ErrorResponse(code: "OverLimit", message: "m", queryErrorCode: "AWS.SimpleQueueService.OverLimit", senderFault: nil)),
    ] as [(String, String?, SQSProtocol.ErrorResponse)])
    func errorSpellings(body: String, header: String?, expected: SQSProtocol.ErrorResponse) {
        #expect(SQSProtocol.ErrorResponse.parse(body: Array(body.utf8), queryErrorHeader: header) == expected)
    }

    @Test("a body that is not a JSON error object is not an error answer", arguments: ["", "<html>Bad Gateway</html>", "[]", #"{"message":"no type"}"#])
    func notAnErrorAnswer(body: String) {
        #expect(SQSProtocol.ErrorResponse.parse(body: Array(body.utf8), queryErrorHeader: "X;Sender") == nil)
    }

    @Test("throttling is recognised by the JSON code or by the query-error header", arguments: [
        ("ThrottlingException", nil, true),
        ("RequestThrottled", nil, true),
        ("OverLimit", nil, true),
        ("TooManyRequestsException", nil, true),
        ("SomethingNew", "AWS.SimpleQueueService.RequestThrottled;Sender", true),
        ("SomethingNew", "RequestThrottled;Sender", true),
        ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue;Sender", false),
        ("InvalidParameterValue", nil, false),
        ("InternalError", "InternalError;Receiver", false),
    ] as [(String, String?, Bool)])
    func throttling(code: String, header: String?, throttled: Bool) throws {
        let body = #"{"__type":"com.amazonaws.sqs#\#(code)","message":"m"}"#
        let error = try #require(SQSProtocol.ErrorResponse.parse(body: Array(body.utf8), queryErrorHeader: header))
        #expect(error.isThrottling == throttled)
    }

    @Test("server-side trouble is recognised by the code or a Receiver fault", arguments: [
        ("InternalError", nil, true),
        ("ServiceUnavailable", nil, true),
        ("KmsThrottled", nil, true),
        ("SomethingNew", "SomethingNew;Receiver", true),
        ("SomethingNew", "SomethingNew;Sender", false),
        ("AccessDenied", nil, false),
    ] as [(String, String?, Bool)])
    func serverFault(code: String, header: String?, serverFault: Bool) throws {
        let error = try #require(SQSProtocol.ErrorResponse.parse(body: Array(#"{"__type":"\#(code)"}"#.utf8), queryErrorHeader: header))
        #expect(error.isServerFault == serverFault)
    }
}
