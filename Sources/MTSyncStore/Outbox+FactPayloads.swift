import MTSyncCore

/// The payloads of fact events, built from the stored facts when the relay claims them (migration 0020): the page
/// writes a narrow event (the fact's id and time, its kind and key) instead of a ~700-byte copy of the fact, which
/// was half of what a fact cost the page to write. The payload is `TradingFact.eventPayload`, the text the page
/// wrote before, from the same columns (`FactJSONParityTests` holds the two to each other and to the fact's JSON).
extension Outbox {
    /// A claimed event without a payload: which stored fact it is.
    struct FactReference: Sendable {
        var factID: Int64
        var timeUTCMilliseconds: Int64
    }

    /// A fact as it is stored now: its row as the fact, its content hash and its current idempotency key (which says
    /// its revision).
    struct StoredFact: Sendable {
        var fact: TradingFact
        var contentHash: String
        var idempotencyKey: String
    }

    /// The claimed rows as events: the payload as stored, or built from the stored fact (migration 0020); and the
    /// events whose fact has a newer revision than theirs.
    static func events(of rows: PostgresRows, serverID: String, on connection: PostgresConnection) async throws -> (events: [OutboxEvent], superseded: [Int64]) {
        var references: [FactReference] = []
        for row in rows where row.isNull(4) {
            guard let factID = try row.decode(Int64?.self, 7), let time = try row.decode(Int64?.self, 8) else {
                throw StoredFactUnreadable(column: 7, text: "an event without a payload or a fact")
            }
            references.append(FactReference(factID: factID, timeUTCMilliseconds: time))
        }
        let facts = try await storedFacts(references, on: connection)
        var events: [OutboxEvent] = [], superseded: [Int64] = []
        events.reserveCapacity(rows.count)
        for row in rows {
            let eventID = try row.decode(Int64.self, 0), key = try row.decode(String.self, 2)
            var login = try row.decode(Int64?.self, 3)
            let payload: String
            if let stored = try row.decode(String?.self, 4) {
                payload = stored
            } else {
                guard let factID = try row.decode(Int64?.self, 7), let fact = facts[factID], fact.idempotencyKey == key else {
                    superseded.append(eventID)
                    continue
                }
                payload = fact.fact.eventPayload(contentHash: fact.contentHash)
                login = Int64(bitPattern: fact.fact.login)
            }
            let backfillJobID = try row.decode(Int64?.self, 6)
            events.append(OutboxEvent(
                event: IngestEvent(
                    eventID: eventID, serverID: serverID, kind: try row.decode(String.self, 1), idempotencyKey: key, login: login,
                    payloadJSON: payload, backfill: backfillJobID != nil),
                attempts: try row.decode(Int.self, 5), backfillJobID: backfillJobID))
        }
        return (events, superseded)
    }

    /// The current stored row of each referenced fact, by fact id. The time range bounds the
    /// partitions read (a round's events are a few minutes or days of one server's facts); a fact whose time moved
    /// out of it since is not found, which `events(of:)` treats like any replaced revision.
    static func storedFacts(_ references: [FactReference], on connection: PostgresConnection) async throws -> [Int64: StoredFact] {
        guard let first = references.first else { return [:] }
        let (earliest, latest) = references.reduce((first.timeUTCMilliseconds, first.timeUTCMilliseconds)) {
            (min($0.0, $1.timeUTCMilliseconds), max($0.1, $1.timeUTCMilliseconds))
        }
        let ids = "{" + references.map { String($0.factID) }.joined(separator: ",") + "}"
        // The bounds are parameters of an unnamed statement, planned with their values: the planner keeps only the
        // months between them (joined to the claim instead, every month's partition is planned: ~25 ms a round).
        let rows = try await connection.query("""
            SELECT fact_id, server_id, platform, login, ticket, leg, kind, raw_action, side, entry,
                   (extract(epoch FROM time_utc) * 1000)::bigint, server_time_msc, zone, symbol, symbol_canonical,
                   asset_class, contract_size::text, lots::text, closed_lots::text, price::text, profit::text, swap::text,
                   commission::text, fee::text, taxes::text, net::text, technical, currency, order_ticket, position_ticket,
                   reason, comment, revision, excluded_reason, encode(content_hash, 'hex'), idempotency_key
            FROM trading_facts
            WHERE time_utc >= \(FactStore.timestampText(milliseconds: earliest))::timestamptz
              AND time_utc <= \(FactStore.timestampText(milliseconds: latest))::timestamptz
              AND fact_id = ANY(\(ids)::bigint[])
            """, name: "read the facts of claimed events")
        var facts: [Int64: StoredFact] = [:]
        facts.reserveCapacity(rows.count)
        for row in rows {
            guard let factID = try row.integer(0) else { continue }
            facts[factID] = StoredFact(
                fact: try storedFact(row), contentHash: try row.decode(String.self, 34), idempotencyKey: try row.decode(String.self, 35))
        }
        return facts
    }

    /// A stored fact row (the columns of `storedFacts`, from 1) as the fact it was stored from.
    private static func storedFact(_ row: PostgresRow) throws -> TradingFact {
        func decimal(_ column: Int) throws -> ExactDecimal? {
            guard let parsed = row.withTextBytes(column, ExactDecimal.init(parsingUTF8:)) else { return nil }
            guard let value = parsed else { throw StoredFactUnreadable(column: column, text: row.text(column) ?? "") }
            return value
        }
        func integer(_ column: Int) throws -> Int64 {
            guard let value = try row.integer(column) else { throw StoredFactUnreadable(column: column, text: "NULL") }
            return value
        }
        func required(_ column: Int) throws -> ExactDecimal {
            guard let value = try decimal(column) else { throw StoredFactUnreadable(column: column, text: "NULL") }
            return value
        }
        func value<Value: RawRepresentable<String>>(_ type: Value.Type, _ column: Int) throws -> Value? {
            guard let text = try row.decode(String?.self, column) else { return nil }
            guard let value = Value(rawValue: text) else { throw StoredFactUnreadable(column: column, text: text) }
            return value
        }
        func unsigned(_ column: Int) throws -> UInt64? { try row.integer(column).map { UInt64(bitPattern: $0) } }
        let leg: MT4Leg? = switch try integer(5) { case 1: .open; case 2: .close; default: nil }
        guard let platform = try value(Platform.self, 2) else { throw StoredFactUnreadable(column: 2, text: "NULL") }
        guard let kind = try value(FactKind.self, 6) else { throw StoredFactUnreadable(column: 6, text: "NULL") }
        return TradingFact(
            identity: FactIdentity(server: try ServerID(try row.decode(String.self, 1)), ticket: UInt64(bitPattern: try integer(4)), leg: leg),
            platform: platform, login: UInt64(bitPattern: try integer(3)), kind: kind,
            rawAction: try integer(7), side: try value(Side.self, 8), entry: try value(Entry.self, 9),
            timeUTCMilliseconds: try integer(10), serverTimeMilliseconds: try integer(11),
            zone: try row.decode(String.self, 12), symbol: try row.decode(String?.self, 13), symbolCanonical: try row.decode(String?.self, 14),
            assetClass: try value(AssetClass.self, 15), contractSize: try decimal(16), lots: try required(17), closedLots: try decimal(18),
            price: try decimal(19), profit: try required(20), swap: try required(21), commission: try required(22), fee: try required(23),
            taxes: try required(24), net: try required(25), technical: row.withTextBytes(26) { $0.first == UInt8(ascii: "t") } ?? false, currency: try row.decode(String?.self, 27),
            order: try unsigned(28), position: try unsigned(29), reason: try row.integer(30), comment: try row.decode(String?.self, 31),
            revision: Int(try integer(32)), excludedReason: try value(SkipReason.self, 33))
    }
}

/// A stored fact's column holds what no fact can have (a value an older or foreign writer put there): the event
/// cannot be built, and the relay's round fails with this rather than sending a guess.
struct StoredFactUnreadable: Error, CustomStringConvertible {
    let column: Int
    let text: String

    var description: String { "a stored fact's column \(column) holds \(text.prefix(60)), which no fact can have: its event cannot be built" }
}
