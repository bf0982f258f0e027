import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The small Amazon SQS client mtsync needs (no AWS SDK for Swift is available here): AWS JSON 1.0 over
/// AsyncHTTPClient, every request signed with SigV4 (`SigV4Signer`). One call = one HTTP request; retrying is the
/// caller's decision, because only the caller knows which entries of a batch still need to go.
public struct SQSClient: Sendable {
    public let settings: AWSSettings
    public let httpClient: HTTPClient
    /// From sending a call to the end of its answer.
    public let timeout: Duration
    /// The signing clock; fixed in tests.
    let now: @Sendable () -> Date

    public init(settings: AWSSettings, httpClient: HTTPClient, timeout: Duration = .seconds(20), now: @escaping @Sendable () -> Date = { Date() }) {
        self.settings = settings
        self.httpClient = httpClient
        self.timeout = timeout
        self.now = now
    }

    /// Calls `action` and decodes its answer. Errors say whose fault it is (`SQSError.Kind`) and never carry a
    /// credential.
    public func call<A: SQSProtocol.Action>(_ action: A.Type, _ request: A.Request) async throws(SQSError) -> A.Response {
        let body: [UInt8]
        do {
            body = try SQSProtocol.encode(request)
        } catch {
            throw SQSError(kind: .sender, action: A.name, message: "could not encode the request: \(error)")
        }
        guard let url = URL(string: settings.endpoint + "/"), let host = url.host else {
            throw SQSError(kind: .configuration, action: A.name, message: "the SQS endpoint \(settings.endpoint) is not a URL")
        }
        let hostHeader = url.port.map { "\(host):\($0)" } ?? host
        let headers = [
            SigV4Signer.Header("Host", hostHeader),
            SigV4Signer.Header("Content-Type", SQSProtocol.contentType),
            SigV4Signer.Header("X-Amz-Target", SQSProtocol.targetPrefix + A.name),
        ]
        let signer = SigV4Signer(credentials: settings.credentials, region: settings.region, service: "sqs")
        let signature = signer.sign(method: "POST", path: "/", headers: headers, body: body, date: now())

        var httpRequest = HTTPClientRequest(url: settings.endpoint + "/")
        httpRequest.method = .POST
        for header in headers + signature.headersToAdd { httpRequest.headers.replaceOrAdd(name: header.name, value: header.value) }
        httpRequest.headers.replaceOrAdd(name: "Content-Length", value: String(body.count))
        httpRequest.body = .bytes(ByteBuffer(bytes: body))

        let status: HTTPResponseStatus
        let responseBody: ByteBuffer
        let queryError: String?
        do {
            let response = try await httpClient.execute(httpRequest, timeout: TimeAmount(timeout))
            status = response.status
            queryError = response.headers.first(name: "x-amzn-query-error")
            responseBody = try await response.body.collect(upTo: 8 << 20)
        } catch {
            throw SQSError(kind: .transport, action: A.name, message: "no answer from \(settings.endpoint): \(error)")
        }
        let bytes = Array(responseBody.readableBytesView)
        guard (200..<300).contains(status.code) else {
            throw SQSError.from(status: status.code, body: bytes, queryErrorHeader: queryError, action: A.name)
        }
        do {
            return try SQSProtocol.decode(A.Response.self, from: bytes)
        } catch {
            throw SQSError(kind: .server, action: A.name, httpStatus: Int(status.code),
                           message: "SQS answered \(status.code) with a body that is not a \(A.name) answer: \(Self.excerpt(bytes))")
        }
    }

    static func excerpt(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(300), as: UTF8.self)
        return bytes.count > 300 ? text + "…" : text
    }
}

/// A failed SQS call: whose fault, which action, what SQS said. Carries no credential or signature.
public struct SQSError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// No answer: connection refused, reset, timed out. Worth a retry.
        case transport
        /// SQS asked to slow down (throttling, over the in-flight limit). Back off, then retry.
        case throttled
        /// SQS failed (5xx, internal error). Worth a retry.
        case server
        /// The request itself is wrong for SQS (a message it refuses). Retrying the same request cannot help.
        case sender
        /// Wrong or missing queue, credentials, permissions or signature: an operator must fix the configuration;
        /// the messages are not at fault and wait.
        case configuration
    }

    public var kind: Kind
    public var action: String
    public var httpStatus: Int?
    /// SQS's error code (`QueueDoesNotExist`, `ThrottlingException`, …), when it gave one.
    public var code: String?
    public var message: String

    public init(kind: Kind, action: String, httpStatus: Int? = nil, code: String? = nil, message: String) {
        self.kind = kind
        self.action = action
        self.httpStatus = httpStatus
        self.code = code
        self.message = message
    }

    public var isRetryable: Bool { kind != .sender }

    public var description: String {
        "SQS \(action) failed (\(kind.rawValue)\(httpStatus.map { ", HTTP \($0)" } ?? "")\(code.map { ", \($0)" } ?? "")): \(message)"
    }

    /// Codes that mean the configuration (queue, identity, permission, clock) is wrong, not the message.
    static let configurationCodes: Set<String> = [
        "AccessDenied", "AccessDeniedException", "InvalidClientTokenId", "SignatureDoesNotMatch",
        "UnrecognizedClientException", "QueueDoesNotExist", "NonExistentQueue", "InvalidSecurity", "ExpiredToken",
        "MissingAuthenticationToken", "IncompleteSignature", "RequestExpired", "KmsAccessDenied", "KmsDisabled",
        "KmsNotFound", "KmsInvalidState", "KmsInvalidKeyUsage", "InvalidAddress", "QueueDeletedRecently",
    ]

    static func from(status: UInt, body: [UInt8], queryErrorHeader: String?, action: String) -> SQSError {
        let parsed = SQSProtocol.ErrorResponse.parse(body: body, queryErrorHeader: queryErrorHeader)
        let code = parsed?.code
        let queryCode = parsed?.queryErrorCode?.replacingOccurrences(of: "AWS.SimpleQueueService.", with: "")
        let message = parsed.map { $0.message.isEmpty ? $0.code : $0.message } ?? "HTTP \(status): \(SQSClient.excerpt(body))"
        let kind: Kind
        if parsed?.isThrottling == true || status == 429 {
            kind = .throttled
        } else if status >= 500 || parsed?.isServerFault == true {
            kind = .server
        } else if status == 403 || [code, queryCode].contains(where: { $0.map(configurationCodes.contains) == true }) {
            kind = .configuration
        } else {
            kind = .sender
        }
        return SQSError(kind: kind, action: action, httpStatus: Int(status), code: code, message: message)
    }
}
