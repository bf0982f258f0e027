/// The JSON shape of a fact, as `mtsync normalize` prints it and the ingest carries it: the one source of truth.
/// The store renders the same shape in SQL for the outbox (`FactStore.payloadSQL`, nulls left out), held to this
/// one by `FactJSONParityTests`.
///
/// Decimals are JSON strings (exact); identifiers are JSON numbers written with all their digits (consumers
/// must read them as 64-bit integers: tickets can exceed 2^53); `time_utc` is ISO 8601 with milliseconds and
/// `Z`; `server_time` is the server's wall clock in the same form without a zone designator.
extension TradingFact: Encodable {
    enum CodingKeys: String, CodingKey {
        case server, platform, login, deal, ticket, leg, kind, rawAction = "raw_action", side, entry
        case timeUTC = "time_utc", serverTime = "server_time", zone, symbol, symbolCanonical = "symbol_canonical"
        case assetClass = "asset_class", contractSize = "contract_size", lots, price, profit, swap, commission, fee
        case taxes, net, technical, currency, order, position, reason, comment, revision
        case contentHash = "content_hash", idempotencyKey = "idempotency_key"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(identity.server.rawValue, forKey: .server)
        try container.encode(platform, forKey: .platform)
        try container.encode(login, forKey: .login)
        if platform == .mt5 {
            try container.encode(identity.ticket, forKey: .deal)
        } else {
            try container.encode(identity.ticket, forKey: .ticket)
            try container.encode(identity.leg, forKey: .leg)
        }
        try container.encode(kind, forKey: .kind)
        try container.encode(rawAction, forKey: .rawAction)
        try container.encode(side, forKey: .side)
        try container.encode(entry, forKey: .entry)
        try container.encode(ServerTimeText.iso8601(milliseconds: timeUTCMilliseconds) + "Z", forKey: .timeUTC)
        try container.encode(ServerTimeText.iso8601(milliseconds: serverTimeMilliseconds), forKey: .serverTime)
        try container.encode(zone, forKey: .zone)
        try container.encode(symbol, forKey: .symbol)
        try container.encode(symbolCanonical, forKey: .symbolCanonical)
        try container.encode(assetClass, forKey: .assetClass)
        try container.encode(contractSize, forKey: .contractSize)
        try container.encode(lots, forKey: .lots)
        try container.encode(price, forKey: .price)
        try container.encode(profit, forKey: .profit)
        try container.encode(swap, forKey: .swap)
        try container.encode(commission, forKey: .commission)
        try container.encode(fee, forKey: .fee)
        try container.encode(taxes, forKey: .taxes)
        try container.encode(net, forKey: .net)
        try container.encode(technical, forKey: .technical)
        try container.encode(currency, forKey: .currency)
        try container.encode(order, forKey: .order)
        try container.encode(position, forKey: .position)
        try container.encode(reason, forKey: .reason)
        try container.encode(comment, forKey: .comment)
        try container.encode(revision, forKey: .revision)
        try container.encode(contentHash, forKey: .contentHash)
        try container.encode(idempotencyKey, forKey: .idempotencyKey)
    }
}
