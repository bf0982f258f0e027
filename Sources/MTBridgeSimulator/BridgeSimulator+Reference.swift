import MTSyncBridge
import MTSyncCore
import NIOCore

extension BridgeSimulator {
    /// `server.info` (§4.1).
    func serveServerInfo(_ request: SimulatorRequest, writer: inout LineWriter) async throws {
        let id = request.id
        // The server clock is UTC shifted by the zone rule, read at the same instant (§4.1).
        let (utcNow, serverNow) = serverClock()
        let zone = ServerTimeZone(zoneRule)
        let offsetMinutes = (serverNow - utcNow) / 60_000
        // Daylight saving is on when the offset is above the lower of January's and July's.
        let year = utcNow - utcNow % (365 * 86_400_000)
        let standardMinutes = [year + 15 * 86_400_000, year + 196 * 86_400_000].map { instant in
            ((zone?.serverMilliseconds(fromUTCMilliseconds: instant) ?? instant) - instant) / 60_000
        }.min() ?? offsetMinutes
        try await writer.send(["type": "server_info", "id": .string(id), "data": [
            "server_id": .string(dataset.configuration.serverID), "platform": .string(platform.rawValue), "bridge": "mtbridge-sim/1",
            "mt_build": .integer(platform == .mt4 ? 1420 : 4755),
            "time_zone": ["rule": .string(zoneRule), "utc_offset_minutes": .integer(Int(offsetMinutes)), "dst": .bool(offsetMinutes > standardMinutes)],
            "server_time_ms": .integer(faults.misbehaviour == .maximalServerTime ? .max : faults.serverTimeMilliseconds ?? serverNow), "utc_time_ms": .integer(utcNow),
            "capabilities": .array(servedCapabilities.map { .string($0) }),
        ]])
        try await writer.send(["type": "end", "id": .string(id), "count": .integer(1), "more": false, "next": .null])
        try await writer.flush()
    }

    /// `accounts` (§4.4).
    func serveAccounts(_ request: SimulatorRequest, writer: inout LineWriter) async throws {
        let id = request.id
        let params = request.params
        let after = params["after"]?.text.flatMap { UInt64($0) } ?? 0
        let limit = request.limit
        let accounts = dataset.accountRecords(generation: generationBox.generation).filter { UInt64($0.login!)! > after }
        let page = accounts.prefix(limit)
        for account in page {
            try await writer.send(["type": "account", "id": .string(id), "data": LineWriter.accountObject(faults.omitting(account))])
        }
        let more = accounts.count > page.count
        try await writer.send(["type": "end", "id": .string(id), "count": .integer(page.count), "more": .bool(more),
                               "next": more ? .string(page.last!.login!) : .null])
        try await writer.flush()
    }

    /// `daily` (§4.8): the records of the server days starting in [from_ms, to_ms), by (day, login), paged by `after`.
    func serveDaily(_ request: SimulatorRequest, writer: inout LineWriter) async throws {
        let id = request.id
        // §4.8: the records of the server days starting in [from_ms, to_ms), by (day, login), paged by `after`.
        let params = request.params
        let (from, to) = try request.range(or: "daily needs from_ms < to_ms")
        let limit = request.limit
        var after: (day: String, login: UInt64)?
        if let position = params["after"], position != .null {
            guard let day = position["day"]?.text, let login = position["login"]?.text.flatMap({ UInt64($0) }) else {
                throw RequestRejection.badRequest("after needs day and login")
            }
            after = (day, login)
        }
        let page = dataset.dailyRecords(fromMilliseconds: from, toMilliseconds: to, after: after, limit: limit, generation: generationBox.generation)
        for record in page.records {
            try await writer.send(["type": "daily", "id": .string(id), "data": LineWriter.dailyObject(faults.omitting(record))])
        }
        try await writer.send(["type": "end", "id": .string(id), "count": .integer(page.records.count), "more": .bool(page.more),
                               "next": page.more ? ["day": .string(page.records.last!.day!), "login": .string(page.records.last!.login!)] : .null])
        try await writer.flush()
    }

    /// `symbols` (§4.5): ascending by name, paged by `after` like every paged method.
    func serveSymbols(_ request: SimulatorRequest, writer: inout LineWriter) async throws {
        let id = request.id
        // Ascending by name, paged by `after` like every paged method (§4.5).
        let params = request.params
        let after = params["after"]?.text ?? ""
        let limit = request.limit
        let symbols = (platform == .mt4 ? SimulatedDataset.mt4Symbols : SimulatedDataset.symbols).sorted().filter { $0 > after }
        let page = symbols.prefix(limit)
        for symbol in page {
            try await writer.send(["type": "symbol", "id": .string(id), "data": faults.omitting(LineWriter.symbolObject(symbol, platform: platform))])
        }
        let more = symbols.count > page.count
        try await writer.send(["type": "end", "id": .string(id), "count": .integer(page.count), "more": .bool(more),
                               "next": more ? .string(page.last!) : .null])
        try await writer.flush()
    }
}
