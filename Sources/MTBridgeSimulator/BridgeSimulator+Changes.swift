import MTSyncBridge
import MTSyncCore
import NIOCore

extension BridgeSimulator {
    /// `changes` of an MT4 bridge (§4.6): trades changed since `since`; a deletion names the record by `order` only.
    func serveTradeChanges(_ request: SimulatorRequest, writer: inout LineWriter) async throws {
        let id = request.id
        let since = try request.changesSince(keptFrom: generationBox.changesKeptFrom)
        let limit = request.limit
        let changes = generationBox.generation > 0 ? dataset.tradeChanges().filter { $0.seq > since && $0.seq >= generationBox.changesKeptFrom } : []
        let page = changes.prefix(limit)
        for change in page {
            // A deletion names the record by `order` only (§4.6).
            let record = change.op == "delete" ? JSONValue.object([("order", .string(String(change.trade.order)))]) : LineWriter.tradeObject(change.trade.record)
            writer.raw(JSONValue.object([("type", "change"), ("id", .string(id)), ("data", .object([
                ("seq", .integer(change.seq)), ("op", .string(change.op)), ("record", record),
            ]))]).serialized())
        }
        let more = changes.count > page.count
        try await writer.send(["type": "end", "id": .string(id), "count": .integer(page.count), "more": .bool(more),
                               "next": more ? page.last.map { ["seq": .integer($0.seq)] } ?? .null : .null])
        try await writer.flush()
    }

    /// `changes` of an MT5 bridge (§4.6): deals changed since `since`.
    func serveDealChanges(_ request: SimulatorRequest, writer: inout LineWriter) async throws {
        let id = request.id
        let since = try request.changesSince(keptFrom: generationBox.changesKeptFrom)
        let limit = request.limit
        let changes = generationBox.generation > 0 ? dataset.changes().filter { $0.seq > since && $0.seq >= generationBox.changesKeptFrom } : []
        let page = changes.prefix(limit)
        for change in page {
            writer.raw(JSONValue.object([("type", "change"), ("id", .string(id)), ("data", .object([
                ("seq", .integer(change.seq)), ("op", .string(change.op)), ("record", LineWriter.dealObject(change.record)),
            ]))]).serialized())
        }
        let more = changes.count > page.count
        try await writer.send(["type": "end", "id": .string(id), "count": .integer(page.count), "more": .bool(more),
                               "next": more ? page.last.map { ["seq": .integer($0.seq)] } ?? .null : .null])
        try await writer.flush()
    }

    /// `digest` (§4.7): per-bucket counts, volumes and checksums of the history.
    func serveDigest(_ request: SimulatorRequest, writer: inout LineWriter) async throws {
        let id = request.id
        let params = request.params
        guard let from = params["from_ms"]?.text.flatMap({ Int64($0) }), let to = params["to_ms"]?.text.flatMap({ Int64($0) }),
            let bucket = params["bucket_ms"]?.text.flatMap({ Int64($0) }), bucket == 3_600_000 || bucket == 86_400_000,
            from < to, from % bucket == 0, to % bucket == 0
        else {
            throw RequestRejection.badRequest("digest needs from_ms < to_ms, multiples of bucket_ms (3600000 or 86400000)")
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
