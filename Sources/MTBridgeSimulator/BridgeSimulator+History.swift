import MTSyncBridge
import MTSyncCore
import NIOCore

extension BridgeSimulator {
    /// `deals` (§4.2): one page of the MT5 history, with the page-level faults; false when the connection is to end.
    func serveDeals(_ request: SimulatorRequest, writer: inout LineWriter, recordsSent: inout Int, counters: FaultCounters) async throws -> Bool {
        let id = request.id
        guard platform == .mt5 else {
            throw RequestRejection(code: "unknown_method", message: "method deals is not served by this bridge (MT4: use trades)")
        }
        let params = request.params
        let (from, to) = try request.range(or: "deals needs integer from_ms < to_ms")
        let limit = try request.checkedLimit()
        var after: (Int64, UInt64)?
        if let position = params["after"], position != .null {
            guard let time = position["time_msc"]?.text.flatMap({ Int64($0) }), let deal = position["deal"]?.text.flatMap({ UInt64($0) }) else {
                throw RequestRejection.badRequest("after needs time_msc and deal")
            }
            after = (time, deal)
        }
        let page = dataset.deals(
            fromMilliseconds: from, toMilliseconds: servedEnd(to), after: after, limit: limit + faults.pageOverrun, generation: generationBox.generation)
        var records = page.records
        if let misbehaviour = faults.misbehaviour {
            guard try await misbehave(misbehaviour, before: &records, id: id, to: to, writer: &writer) else { return false }
        }
        let complete = try await writeRecords(records, writer: &writer, recordsSent: &recordsSent, counters: counters) { writer, deal in
            var served = deal
            if let every = faults.unreadableProfitEvery, let ticket = deal.deal.flatMap(UInt64.init), ticket % every == 0 { served.profit = "1,5" }
            if let altered = faults.alteredDeals, let ticket = deal.deal.flatMap(UInt64.init), ticket % altered.every == 0 {
                for (name, value) in altered.fields { served.set(name, value) }
            }
            writer.record(type: "deal", id: id, data: faults.omitting(served))
        }
        guard complete else { return false }
        generationBox.count { $0.pages += 1 }
        var next: JSONValue = page.records.last.map { ["time_msc": .number($0.timeMsc!), "deal": .string($0.deal!)] } ?? .null
        var count = records.count, more = page.more
        switch faults.misbehaviour {
        case .futureNext?: next = ["time_msc": .integer(253_402_300_799_000), "deal": "1"]
        case .hugeNextTicket?: next = ["time_msc": page.records.last.map { .number($0.timeMsc!) } ?? .integer(from), "deal": "18446744073709551616"]
        case .nextBehindAfter?: next = params["after"] ?? ["time_msc": .integer(from), "deal": "0"]
        case .moreWithoutNext?: next = .null
        case .lyingCount?: count += 7
        default: break
        }
        if faults.misbehaviour == .moreWithoutNext { more = more || !page.records.isEmpty }
        let end: JSONValue = ["type": "end", "id": .string(id), "count": .integer(count), "more": .bool(more), "next": more || faults.misbehaviour == .futureNext ? next : .null]
        try await writer.send(end)
        if faults.misbehaviour == .repeatedEnd { try await writer.send(end) }
        if faults.misbehaviour == .recordsAfterEnd, let first = page.records.first { writer.record(type: "deal", id: id, data: first) }
        try await writer.flush()
        return true
    }

    /// `trades` (§4.3): one page of the MT4 closed or open trades; false when the connection is to end.
    func serveTrades(_ request: SimulatorRequest, writer: inout LineWriter, recordsSent: inout Int, counters: FaultCounters) async throws -> Bool {
        let id = request.id
        guard platform == .mt4 else {
            throw RequestRejection(code: "unknown_method", message: "method trades is not served by this bridge (MT5: use deals)")
        }
        let params = request.params
        let limit = try request.checkedLimit()
        let position = params["after"].flatMap { $0 == .null ? nil : $0 }
        let page: (records: [SimulatedTrade], more: Bool)
        let next: (SimulatedTrade) -> JSONValue
        switch params["set"]?.text {
        case "closed":
            let (from, to) = try request.range(or: "trades (closed) needs integer from_ms < to_ms")
            var after: (time: Int64, order: UInt64)?
            if let position {
                guard let time = position["time"]?.text.flatMap({ Int64($0) }), let order = position["order"]?.text.flatMap({ UInt64($0) }) else {
                    throw RequestRejection.badRequest("after needs time and order")
                }
                after = (time, order)
            }
            page = dataset.closedTrades(fromMilliseconds: from, toMilliseconds: servedEnd(to), after: after, limit: limit, generation: generationBox.generation)
            next = { ["time": .integer($0.closeTime), "order": .string(String($0.order))] }
        case "open":
            var after: UInt64?
            if let position {
                guard let order = position["order"]?.text.flatMap({ UInt64($0) }) else {
                    throw RequestRejection.badRequest("after needs order")
                }
                after = order
            }
            page = dataset.openTrades(after: after, limit: limit)
            next = { ["order": .string(String($0.order))] }
        default:
            throw RequestRejection.badRequest("trades needs set \"closed\" or \"open\"")
        }
        let complete = try await writeRecords(page.records, writer: &writer, recordsSent: &recordsSent, counters: counters) { writer, trade in
            writer.raw(JSONValue.object([("type", "trade"), ("id", .string(id)), ("data", LineWriter.tradeObject(faults.omitting(trade.record)))]).serialized())
        }
        guard complete else { return false }
        generationBox.count { $0.pages += 1 }
        try await writer.send(["type": "end", "id": .string(id), "count": .integer(page.records.count), "more": .bool(page.more),
                               "next": page.more ? page.records.last.map(next) ?? .null : .null])
        try await writer.flush()
        return true
    }
}
