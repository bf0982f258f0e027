/// What a fact records, for the loyalty platform. `trade` is a buy or sell deal; the rest are money movements.
public enum FactKind: String, Sendable, Hashable, Codable, CaseIterable {
    case trade, balance, credit, charge, correction, bonus, commission, interest, dividend, tax, canceled, other
}

public enum Side: String, Sendable, Hashable, Codable {
    case buy, sell
}

/// Whether a trade opened, closed, reversed or closed-by a position.
public enum Entry: String, Sendable, Hashable, Codable {
    case `in`
    case out
    case `inout`
    case outBy = "out_by"
}

/// The part of an MT4 trade a fact stands for: MT4 keeps one record per ticket that is opened and later closed,
/// so it yields an `open` fact when opened and a `close` fact when closed. Balance and credit records have no leg.
public enum MT4Leg: String, Sendable, Hashable, Codable {
    case open, close

    /// Stored in `fact_identities.leg`: 0 for MT5 deals and single MT4 operations, 1 open, 2 close.
    public var storedValue: Int16 { self == .open ? 1 : 2 }
}

/// Which fact this is, stable across re-reads: `(server, deal)` for MT5, `(server, ticket, leg)` for MT4.
public struct FactIdentity: Sendable, Hashable {
    public let server: ServerID
    /// MT5 deal ticket, or MT4 order ticket.
    public let ticket: UInt64
    /// MT4 only; nil for MT5 deals and MT4 balance/credit operations.
    public let leg: MT4Leg?

    public init(server: ServerID, ticket: UInt64, leg: MT4Leg? = nil) {
        self.server = server
        self.ticket = ticket
        self.leg = leg
    }

    /// `live-mt5:123456` or `live-mt4:98765:close`.
    public var key: String {
        let base = server.rawValue + ":" + String(ticket)
        return leg.map { base + ":" + $0.rawValue } ?? base
    }
}

/// One normalized trading fact: a deal (MT5) or one leg of a trade record (MT4), in one model for both.
///
/// Money fields are exact decimals in the account currency; `net` is their exact sum. Times are kept three
/// ways: the UTC instant (milliseconds), the raw server wall-clock time as MetaTrader gave it, and the zone
/// rule used between the two.
public struct TradingFact: Sendable, Hashable {
    public var identity: FactIdentity
    public var platform: Platform
    public var login: UInt64
    public var kind: FactKind
    /// MT5 `Action` or MT4 `cmd` as received, so `other` facts (and every fact) can be re-interpreted later.
    public var rawAction: Int64
    public var side: Side?
    public var entry: Entry?
    public var timeUTCMilliseconds: Int64
    public var serverTimeMilliseconds: Int64
    public var zone: String
    public var symbol: String?
    public var symbolCanonical: String?
    public var assetClass: AssetClass?
    public var contractSize: ExactDecimal?
    public var lots: ExactDecimal
    /// How much of a position this deal closed, in lots, when the bridge says (MT5 `VolumeClosedExt` / 10^8, else
    /// `VolumeClosed` / 10^4); nil when it did not. What counts as closed volume is decided from it
    /// (`ClosedVolume`): an MT5 reversal (`inout`) without it is not guessed at.
    public var closedLots: ExactDecimal?
    public var price: ExactDecimal?
    public var profit: ExactDecimal
    public var swap: ExactDecimal
    public var commission: ExactDecimal
    public var fee: ExactDecimal
    public var taxes: ExactDecimal
    public var net: ExactDecimal
    /// Position maintenance (rollover, variation margin, transfer, sync, split, corporate action), not trading.
    public var technical: Bool
    /// Account currency, when the accounts stream told us.
    public var currency: String?
    public var order: UInt64?
    public var position: UInt64?
    public var reason: Int64?
    public var comment: String?
    /// Revision of this identity's content; the store assigns it (1 for the first version).
    public var revision: Int
    /// Why this fact must not reach the platform (a demo group, an excluded login); nil: it is sent. Decided from
    /// the account (`AccountPolicy`), not part of the content: the content hash does not cover it.
    public var excludedReason: SkipReason?

    /// Lower-case hex SHA-256 of the fact's canonical content (every field above except `revision`).
    public var contentHash: String { FactHasher.contentHash(of: self) }

    /// `server:identity:revision`, the key the ingest drops repeats by.
    public var idempotencyKey: String { identity.key + ":" + String(revision) }

    /// The memberwise initializer, public: the store reads facts back (the relay builds an event's payload from the
    /// stored fact). Optional fields default to nil, as the synthesized one's did.
    public init(
        identity: FactIdentity, platform: Platform, login: UInt64, kind: FactKind, rawAction: Int64, side: Side? = nil, entry: Entry? = nil,
        timeUTCMilliseconds: Int64, serverTimeMilliseconds: Int64, zone: String, symbol: String? = nil, symbolCanonical: String? = nil,
        assetClass: AssetClass? = nil, contractSize: ExactDecimal? = nil, lots: ExactDecimal, closedLots: ExactDecimal? = nil, price: ExactDecimal? = nil,
        profit: ExactDecimal, swap: ExactDecimal, commission: ExactDecimal, fee: ExactDecimal, taxes: ExactDecimal, net: ExactDecimal,
        technical: Bool, currency: String? = nil, order: UInt64? = nil, position: UInt64? = nil, reason: Int64? = nil, comment: String? = nil, revision: Int,
        excludedReason: SkipReason? = nil
    ) {
        self.identity = identity
        self.platform = platform
        self.login = login
        self.kind = kind
        self.rawAction = rawAction
        self.side = side
        self.entry = entry
        self.timeUTCMilliseconds = timeUTCMilliseconds
        self.serverTimeMilliseconds = serverTimeMilliseconds
        self.zone = zone
        self.symbol = symbol
        self.symbolCanonical = symbolCanonical
        self.assetClass = assetClass
        self.contractSize = contractSize
        self.lots = lots
        self.closedLots = closedLots
        self.price = price
        self.profit = profit
        self.swap = swap
        self.commission = commission
        self.fee = fee
        self.taxes = taxes
        self.net = net
        self.technical = technical
        self.currency = currency
        self.order = order
        self.position = position
        self.reason = reason
        self.comment = comment
        self.revision = revision
        self.excludedReason = excludedReason
    }
}
