import MTSyncBridge
import MTSyncCore
import NIOCore

extension BridgeSimulator {
    /// `changes` (§4.6): what changed after `since` (none before the first generation), the page's changes as
    /// `(seq, op, record)`, then `end` with the next `since`. An MT4 bridge sends trades, and names a deletion's record
    /// by `order` only; an MT5 bridge sends deals.
    func serveChanges(_ request: SimulatorRequest, writer: inout LineWriter) async throws {
        let since = try request.changesSince(keptFrom: generationBox.changesKeptFrom)
        let kept = generationBox.changesKeptFrom
        let changes: [(seq: Int64, op: String, record: JSONValue)]
        if generationBox.generation == 0 {
            changes = []
        } else if platform == .mt4 {
            changes = dataset.tradeChanges().filter { $0.seq > since && $0.seq >= kept }.map { change in
                (change.seq, change.op, change.op == "delete" ? JSONValue.object([("order", .string(String(change.trade.order)))]) : LineWriter.tradeObject(change.trade.record))
            }
        } else {
            changes = dataset.changes().filter { $0.seq > since && $0.seq >= kept }.map { ($0.seq, $0.op, LineWriter.dealObject($0.record)) }
        }
        let page = changes.prefix(request.limit)
        for change in page {
            writer.raw(JSONValue.object([("type", "change"), ("id", .string(request.id)), ("data", .object([
                ("seq", .integer(change.seq)), ("op", .string(change.op)), ("record", change.record),
            ]))]).serialized())
        }
        let more = changes.count > page.count
        try await writer.send(["type": "end", "id": .string(request.id), "count": .integer(page.count), "more": .bool(more),
                               "next": more ? page.last.map { ["seq": .integer($0.seq)] } ?? .null : .null])
        try await writer.flush()
    }

    /// `digest` (§4.7): per-bucket counts, volumes and checksums of the history.
    func serveDigest(_ request: SimulatorRequest, writer: inout LineWriter) async throws {
        let id = request.id
        let params = request.params
        let rule = "digest needs from_ms < to_ms, multiples of bucket_ms (3600000 or 86400000)"
        let (from, to) = try request.range(or: rule)
        guard let bucket = params["bucket_ms"]?.text.flatMap({ Int64($0) }), bucket == 3_600_000 || bucket == 86_400_000, from % bucket == 0, to % bucket == 0 else {
            throw RequestRejection.badRequest(rule)
        }
        guard (to - from) / bucket <= 744 else {
            throw RequestRejection(code: "range_too_large", message: "at most 744 buckets per request")
        }
        // `stream` names the platform's history (§4.7); absent means this bridge's own.
        let stream = params["stream"]?.text ?? (platform == .mt4 ? "trades" : "deals")
        guard stream == (platform == .mt4 ? "trades" : "deals") else {
            throw RequestRejection.badRequest("digest stream \(stream) is not served by this \(platform.rawValue) bridge")
        }
        let buckets = platform == .mt4
            ? dataset.tradeDigest(fromMilliseconds: from, toMilliseconds: to, bucketMilliseconds: bucket, generation: generationBox.generation)
            : dataset.digest(fromMilliseconds: from, toMilliseconds: to, bucketMilliseconds: bucket, generation: generationBox.generation)
        let shift: Int64 = faults.misbehaviour == .wrongDigest ? 1_800_000 : 0
        for bucket in buckets {
            try await writer.send(["type": "bucket", "id": .string(id), "data": [
                "from_ms": .integer(bucket.from + shift), "to_ms": .integer(bucket.to + shift), "count": .integer(bucket.count),
                "volume": .string(String(bucket.volume)), "checksum": .string(bucket.checksum.description),
            ]])
        }
        try await writer.send(["type": "end", "id": .string(id), "count": .integer(buckets.count), "more": false, "next": .null])
        try await writer.flush()
    }
}
