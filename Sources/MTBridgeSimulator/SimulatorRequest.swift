import MTSyncBridge
import MTSyncCore

/// One request as the simulator reads it: its id, method and parameters, with the checks the methods share.
struct SimulatorRequest {
    let id: String
    let method: String?
    let params: JSONValue

    init(_ message: JSONValue) {
        id = message["id"]?.text ?? ""
        method = message["method"]?.text
        params = message["params"] ?? [:]
    }

    /// `limit`, 1000 when absent (§4).
    var limit: Int { params["limit"]?.text.flatMap { Int($0) } ?? 1000 }

    /// `limit`, which the history methods require within 1…10000.
    func checkedLimit() throws(RequestRejection) -> Int {
        guard (1...10_000).contains(limit) else { throw .badRequest("limit must be 1 to 10000") }
        return limit
    }

    /// `from_ms < to_ms`, both integers, or the request is rejected with `message`.
    func range(or message: String) throws(RequestRejection) -> (from: Int64, to: Int64) {
        guard let from = params["from_ms"]?.text.flatMap({ Int64($0) }), let to = params["to_ms"]?.text.flatMap({ Int64($0) }), from < to else {
            throw .badRequest(message)
        }
        return (from, to)
    }

    /// `since` of a `changes` request (0 when absent), refused with `changes_expired` when the changes after it are
    /// no longer kept (§4.6).
    func changesSince(keptFrom: Int64) throws(RequestRejection) -> Int64 {
        let since = params["since"]?.text.flatMap { Int64($0) } ?? 0
        if since > 0, since < keptFrom {
            throw RequestRejection(code: "changes_expired", message: "changes before seq \(keptFrom) are no longer kept; reconcile instead")
        }
        return since
    }
}

/// A request the simulator answers with an `error` (not retryable), the session going on.
struct RequestRejection: Error {
    let code: String
    let message: String

    static func badRequest(_ message: String) -> RequestRejection { RequestRejection(code: "bad_request", message: message) }
}
