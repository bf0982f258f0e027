/// The outbox event's payload for a stored fact, written here rather than built by PostgreSQL (issue 23: building
/// the same object with `jsonb_build_object` took 30 µs of the database's time per fact, more than the fact's
/// own row). The relay writes it from the stored fact when it sends the event (migration 0020: the page stores no
/// copy of it, which halved what a fact costs the page to write).
///
/// The shape is `TradingFact+JSON` with nulls left out, plus the members only an event carries: `deleted`,
/// `excluded` (why an excluded fact is retracted) and `closed_lots` (an MT4 open leg's). `FactJSONParityTests`
/// holds the two to each other, and to `FactStore.payloadSQL`, which renders the same object from a stored row.
extension TradingFact {
    /// The whole payload of this fact at its `revision`: `eventPayloadHead` completed with the revision, a
    /// `revision` member and the closing brace.
    ///
    /// - Parameter contentHash: `contentHash`, computed once by the caller (it hashes the whole fact), or the hash the
    ///   store kept for it.
    public func eventPayload(contentHash: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(700 + (comment?.utf8.count ?? 0))
        writeEventPayloadHead(contentHash: contentHash, into: &out)
        DecimalDigits.write(Int64(revision), into: &out)
        out.append(contentsOf: #"","revision":"#.utf8)
        DecimalDigits.write(Int64(revision), into: &out)
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// The payload up to the revision: the object's members, ending inside the idempotency key after
    /// `server:ticket[:leg]:` (`eventPayload` goes on from there).
    ///
    /// - Parameter contentHash: `contentHash`, computed once by the caller (it hashes the whole fact).
    public func eventPayloadHead(contentHash: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(640 + (comment?.utf8.count ?? 0))
        writeEventPayloadHead(contentHash: contentHash, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `eventPayloadHead(contentHash:)` as UTF-8 bytes to `out`.
    public func writeEventPayloadHead(contentHash: String, into out: inout [UInt8]) {
        let start = out.count
        func raw(_ text: StaticString) {
            out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        }
        func key(_ name: StaticString) {
            out.append(out.count == start ? UInt8(ascii: "{") : UInt8(ascii: ","))
            out.append(UInt8(ascii: "\""))
            raw(name)
            out.append(UInt8(ascii: "\""))
            out.append(UInt8(ascii: ":"))
        }
        func string(_ name: StaticString, _ value: String?) {
            guard let value else { return }
            key(name)
            JSONText.appendQuoted(value, to: &out)
        }
        func number(_ name: StaticString, _ value: Int64?) {
            guard let value else { return }
            key(name)
            DecimalDigits.write(value, into: &out)
        }
        func number(_ name: StaticString, _ value: UInt64?) {
            guard let value else { return }
            key(name)
            DecimalDigits.write(value, into: &out)
        }
        func time(_ name: StaticString, _ milliseconds: Int64, zulu: Bool) {
            key(name)
            out.append(UInt8(ascii: "\""))
            ServerTimeText.writeISO8601(milliseconds: milliseconds, into: &out)
            if zulu { out.append(UInt8(ascii: "Z")) }
            out.append(UInt8(ascii: "\""))
        }
        func decimal(_ name: StaticString, _ value: ExactDecimal?) {
            guard let value else { return }
            key(name)
            out.append(UInt8(ascii: "\""))
            value.write(into: &out)
            out.append(UInt8(ascii: "\""))
        }
        func boolean(_ name: StaticString, _ value: Bool) {
            key(name)
            if value { raw("true") } else { raw("false") }
        }

        string("server", identity.server.rawValue)
        string("platform", platform.rawValue)
        number("login", login)
        if platform == .mt5 {
            number("deal", identity.ticket)
        } else {
            number("ticket", identity.ticket)
            string("leg", identity.leg?.rawValue)
        }
        string("kind", kind.rawValue)
        number("raw_action", rawAction)
        string("side", side?.rawValue)
        string("entry", entry?.rawValue)
        time("time_utc", timeUTCMilliseconds, zulu: true)
        time("server_time", serverTimeMilliseconds, zulu: false)
        string("zone", zone)
        string("symbol", symbol)
        string("symbol_canonical", symbolCanonical)
        string("asset_class", assetClass?.rawValue)
        decimal("contract_size", contractSize)
        decimal("lots", lots)
        decimal("price", price)
        decimal("profit", profit)
        decimal("swap", swap)
        decimal("commission", commission)
        decimal("fee", fee)
        decimal("taxes", taxes)
        decimal("net", net)
        boolean("technical", technical)
        string("currency", currency)
        number("order", order)
        number("position", position)
        number("reason", reason)
        string("comment", comment)
        // A stored fact is never deleted when written; an excluded one is sent (if at all) as a retraction.
        boolean("deleted", excludedReason != nil)
        string("excluded", excludedReason?.rawValue)
        decimal("closed_lots", closedLots)
        string("content_hash", contentHash)
        key("idempotency_key")
        JSONText.appendQuoted(identity.key + ":", to: &out)
        out.removeLast()  // the closing quote: the key goes on with the revision
    }
}
