/// Turns raw MetaTrader records into trading facts: pure, deterministic, no I/O, no clock.
///
/// Rules (each tested in `NormalizerTests`; docs/normalization.md explains them for broker IT):
/// - Lots: MT5 `VolumeExt / 10^8`, else `Volume / 10^4`; MT4 `volume / 100`. Exact.
/// - Time: MT5 `TimeMsc` (else `Time × 1000`), MT4 `open_time` / `close_time × 1000`, all server wall-clock
///   time, converted to UTC with the server's `ServerTimeZone`.
/// - Money: profit, swap (`Storage`/`storage`), commission, fee (MT5), taxes (MT4); `net` is their exact sum.
/// - Kinds from the server-side action numbering; unknown codes become `other` with the raw code kept.
/// - Technical deals (reason ROLLOVER, VMARGIN, TRANSFER, SYNC, SPLIT, CORPORATE_ACTION) are marked.
/// - Identifiers must fit PostgreSQL's `bigint` (2^63 - 1); larger ones are rejected rather than wrapped.
/// - Closed volume: MT5 `VolumeClosedExt / 10^8`, else `VolumeClosed / 10^4`, when sent.
/// - Every time must lie in the page's `PlausibleTimes` (by default from 2000-01-01 to a day past the server's
///   clock); a record outside is rejected (`timeImplausible`), and no value from a bridge can overflow the
///   arithmetic: each step is bounded or checked before it is done (issue 20).
///
/// What the facts' account decides — filters, currency, holding an unknown account — is not done here but by
/// `AccountPolicy`, with the account store the facts are written to (the same record is decided again when its
/// account arrives).
public struct Normalizer: Sendable {
    public let settings: ServerSettings

    public init(settings: ServerSettings) {
        self.settings = settings
    }

    // MARK: MT5

    /// `times`: the page's window (`PlausibleTimeRule.window`); the default only keeps times a zone can convert.
    public func normalize(_ record: MT5DealRecord, within times: PlausibleTimes = .convertible) -> NormalizationOutcome {
        do {
            return try normalizeOrThrow(record, within: times)
        } catch {
            return .rejected(error)
        }
    }

    private func normalizeOrThrow(_ record: MT5DealRecord, within times: PlausibleTimes) throws(NormalizationRejection) -> NormalizationOutcome {
        let deal = try Field.identifier("Deal", record.deal)
        let login = try Field.identifier("Login", record.login)
        let actionCode = try Field.unsigned32("Action", record.action)

        let action = MT5DealAction(rawValue: actionCode)
        let kind = action.kind
        let serverTime: Int64
        if let timeMsc = try Field.optionalInteger("TimeMsc", record.timeMsc), timeMsc > 0 {
            serverTime = try Field.plausible("TimeMsc", timeMsc, text: record.timeMsc, within: times)
        } else if let seconds = try Field.optionalInteger("Time", record.time), seconds > 0 {
            serverTime = try Field.plausible("Time", seconds: seconds, text: record.time, within: times)
        } else {
            throw NormalizationRejection(field: "TimeMsc", value: record.timeMsc ?? record.time, rule: .missing, detail: "TimeMsc or Time, server time since 1970")
        }

        var entry: Entry?
        if kind == .trade || kind == .canceled {
            let entryCode = try Field.unsigned32("Entry", record.entry ?? "0")
            guard let known = MT5DealEntry(rawValue: entryCode) else {
                throw NormalizationRejection(field: "Entry", value: record.entry, rule: .unknownEntry)
            }
            entry = known.entry
        }

        let lots: ExactDecimal
        if let volumeExt = try Field.optionalUnsigned("VolumeExt", record.volumeExt) {
            lots = try Field.scaled(volumeExt, scale: 8, field: "VolumeExt", text: record.volumeExt)
        } else if let volume = try Field.optionalUnsigned("Volume", record.volume) {
            lots = try Field.scaled(volume, scale: 4, field: "Volume", text: record.volume)
        } else if kind == .trade {
            throw NormalizationRejection(field: "VolumeExt", value: nil, rule: .missing, detail: "a trade deal needs VolumeExt or Volume")
        } else {
            lots = .zero
        }

        let profit = try Field.money("Profit", record.profit)
        let swap = try Field.money("Storage", record.storage)
        let commission = try Field.money("Commission", record.commission)
        let fee = try Field.money("Fee", record.fee)
        let reason = try Field.optionalUnsigned32("Reason", record.reason)
        let dealContractSize = try Field.optionalDecimal("ContractSize", record.contractSize)
        var closedLots: ExactDecimal?
        if kind == .trade {
            if let closedExt = try Field.optionalUnsigned("VolumeClosedExt", record.volumeClosedExt) {
                closedLots = try Field.scaled(closedExt, scale: 8, field: "VolumeClosedExt", text: record.volumeClosedExt)
            } else if let closed = try Field.optionalUnsigned("VolumeClosed", record.volumeClosed) {
                closedLots = try Field.scaled(closed, scale: 4, field: "VolumeClosed", text: record.volumeClosed)
            }
        }

        return .facts([try makeFact(
            identity: FactIdentity(server: settings.server, ticket: deal), login: login, kind: kind,
            rawAction: Int64(actionCode), side: action.side, entry: entry, serverTime: serverTime,
            symbol: record.symbol, dealContractSize: dealContractSize, lots: lots, closedLots: closedLots,
            price: try Field.optionalDecimal("Price", record.price),
            money: (profit, swap, commission, fee, .zero),
            technical: reason.map { MT5DealReason.technical.contains($0) } ?? false,
            order: try Field.optionalIdentifier("Order", record.order),
            position: try Field.optionalIdentifier("PositionID", record.positionID),
            reason: reason.map(Int64.init), comment: record.comment
        )])
    }

    // MARK: MT4

    /// `times`: the page's window (`PlausibleTimeRule.window`); the default only keeps times a zone can convert.
    public func normalize(_ record: MT4TradeRecord, within times: PlausibleTimes = .convertible) -> NormalizationOutcome {
        do {
            return try normalizeOrThrow(record, within: times)
        } catch {
            return .rejected(error)
        }
    }

    private func normalizeOrThrow(_ record: MT4TradeRecord, within times: PlausibleTimes) throws(NormalizationRejection) -> NormalizationOutcome {
        let ticket = try Field.identifier("order", record.order)
        let login = try Field.identifier("login", record.login)
        guard let cmdCode = try Field.optionalInteger("cmd", record.cmd) else {
            throw NormalizationRejection(field: "cmd", value: nil, rule: .missing)
        }
        let command = MT4Command(rawValue: cmdCode)
        if command.isPendingOrder { return .skipped(.pendingOrder) }

        // Server times in milliseconds (MT4 sends seconds), each in the window.
        let openTime = try Field.optionalInteger("open_time", record.openTime).flatMap { $0 > 0 ? $0 : nil }
            .map { (seconds) throws(NormalizationRejection) in try Field.plausible("open_time", seconds: seconds, text: record.openTime, within: times) }
        let closeTime = try Field.optionalInteger("close_time", record.closeTime).flatMap { $0 > 0 ? $0 : nil }
            .map { (seconds) throws(NormalizationRejection) in try Field.plausible("close_time", seconds: seconds, text: record.closeTime, within: times) }
        let reasonText = record.reason ?? record.state
        let reason = try Field.optionalInteger(record.reason != nil ? "reason" : "state", reasonText)
        let profit = try Field.money("profit", record.profit)
        let swap = try Field.money("storage", record.storage)
        let commission = try Field.money("commission", record.commission)
        let taxes = try Field.money("taxes", record.taxes)

        switch command {
        case .balance, .credit, .unknown:
            // One fact: the operation's amount is in `profit`. Balance records carry open_time (and usually the
            // same close_time); an unknown command keeps its raw code as kind `other`.
            guard let time = openTime ?? closeTime else {
                throw NormalizationRejection(field: "open_time", value: record.openTime, rule: .missing, detail: "server time since 1970")
            }
            let kind: FactKind = command == .balance ? .balance : command == .credit ? .credit : .other
            return .facts([try makeFact(
                identity: FactIdentity(server: settings.server, ticket: ticket), login: login, kind: kind,
                rawAction: cmdCode, side: nil, entry: nil, serverTime: time, symbol: record.symbol,
                dealContractSize: nil, lots: try mt4Lots(record, required: false), price: nil,
                money: (profit, swap, commission, .zero, taxes), technical: false,
                order: nil, position: nil, reason: reason, comment: record.comment
            )])
        case .buy, .sell:
            guard let openTime else {
                throw NormalizationRejection(field: "open_time", value: record.openTime, rule: .missing, detail: "server time since 1970")
            }
            let lots = try mt4Lots(record, required: true)
            let side: Side = command == .buy ? .buy : .sell
            // MT4 charges a trade's commission at open (for the round turn); profit, swap and taxes are realized
            // at close. So the open leg carries the commission, the close leg the rest, and each amount is
            // counted once across the two legs.
            var facts = [try makeFact(
                identity: FactIdentity(server: settings.server, ticket: ticket, leg: .open), login: login, kind: .trade,
                rawAction: cmdCode, side: side, entry: .in, serverTime: openTime, symbol: record.symbol,
                dealContractSize: nil, lots: lots, price: try Field.optionalDecimal("open_price", record.openPrice),
                money: (.zero, .zero, commission, .zero, .zero), technical: false,
                order: ticket, position: ticket, reason: reason, comment: record.comment
            )]
            if let closeTime {
                facts.append(try makeFact(
                    identity: FactIdentity(server: settings.server, ticket: ticket, leg: .close), login: login, kind: .trade,
                    rawAction: cmdCode, side: side == .buy ? .sell : .buy, entry: .out, serverTime: closeTime,
                    symbol: record.symbol, dealContractSize: nil, lots: lots,
                    price: try Field.optionalDecimal("close_price", record.closePrice),
                    money: (profit, swap, .zero, .zero, taxes), technical: false,
                    order: ticket, position: ticket, reason: reason, comment: record.comment
                ))
            }
            return .facts(facts)
        case .buyLimit, .sellLimit, .buyStop, .sellStop:
            return .skipped(.pendingOrder)
        }
    }

    private func mt4Lots(_ record: MT4TradeRecord, required: Bool) throws(NormalizationRejection) -> ExactDecimal {
        guard let volume = try Field.optionalUnsigned("volume", record.volume) else {
            if required { throw NormalizationRejection(field: "volume", value: nil, rule: .missing, detail: "hundredths of a lot") }
            return .zero
        }
        return try Field.scaled(volume, scale: 2, field: "volume", text: record.volume)
    }

    // MARK: Shared

    private func makeFact(
        identity: FactIdentity, login: UInt64, kind: FactKind, rawAction: Int64, side: Side?, entry: Entry?,
        serverTime: Int64, symbol rawSymbol: String?, dealContractSize: ExactDecimal?, lots: ExactDecimal, closedLots: ExactDecimal? = nil,
        price: ExactDecimal?, money: (profit: ExactDecimal, swap: ExactDecimal, commission: ExactDecimal, fee: ExactDecimal, taxes: ExactDecimal),
        technical: Bool, order: UInt64?, position: UInt64?, reason: Int64?, comment: String?
    ) throws(NormalizationRejection) -> TradingFact {
        guard let net = ExactDecimal.sum([money.profit, money.swap, money.commission, money.fee, money.taxes]) else {
            throw NormalizationRejection(field: "Profit", value: money.profit.description, rule: .sumOutOfRange)
        }
        let utc = settings.zone.utcMilliseconds(fromServerMilliseconds: serverTime, policy: settings.ambiguousTime).utcMilliseconds
        let symbol = rawSymbol.flatMap { $0.isEmpty ? nil : $0 }
        let (canonical, info) = symbol.map { settings.symbols.resolve($0) } ?? (nil, nil)
        // The deal's own contract size, else the server's symbol definition, else the rules file's table.
        let serverSymbol = symbol.flatMap { settings.serverSymbols[$0] }
        let contractSize = (dealContractSize.flatMap { $0.isZero ? nil : $0 }) ?? (serverSymbol?.contractSize.flatMap { $0.isZero ? nil : $0 }) ?? info?.contractSize
        return TradingFact(
            identity: identity, platform: settings.platform, login: login, kind: kind, rawAction: rawAction,
            side: side, entry: entry, timeUTCMilliseconds: utc, serverTimeMilliseconds: serverTime, zone: settings.zone.name,
            symbol: symbol, symbolCanonical: canonical, assetClass: canonical == nil ? nil : (info?.assetClass ?? .other),
            contractSize: contractSize, lots: lots, closedLots: closedLots, price: price, profit: money.profit, swap: money.swap,
            commission: money.commission, fee: money.fee, taxes: money.taxes, net: net, technical: technical,
            currency: nil, order: order.flatMap { $0 == 0 ? nil : $0 },
            position: position.flatMap { $0 == 0 ? nil : $0 }, reason: reason,
            comment: comment.flatMap { $0.isEmpty ? nil : $0 }, revision: 1
        )
    }
}

/// Strict parsers for the raw field texts, each failure a rejection naming the field.
enum Field {
    static let bigintMaximum = UInt64(Int64.max)

    /// A ticket or login: an unsigned integer that fits PostgreSQL's bigint.
    static func identifier(_ name: String, _ text: String?) throws(NormalizationRejection) -> UInt64 {
        guard let text else { throw NormalizationRejection(field: name, value: nil, rule: .missing) }
        guard let value = parseUnsigned(text) else { throw NormalizationRejection(field: name, value: text, rule: .notUnsignedInteger) }
        guard value > 0 else { throw NormalizationRejection(field: name, value: text, rule: .notPositive) }
        guard value <= bigintMaximum else { throw NormalizationRejection(field: name, value: text, rule: .outOfRange, detail: "at most 2^63 - 1") }
        return value
    }

    static func optionalIdentifier(_ name: String, _ text: String?) throws(NormalizationRejection) -> UInt64? {
        guard let value = try optionalUnsigned(name, text) else { return nil }
        guard value <= bigintMaximum else { throw NormalizationRejection(field: name, value: text, rule: .outOfRange, detail: "at most 2^63 - 1") }
        return value
    }

    static func optionalUnsigned(_ name: String, _ text: String?) throws(NormalizationRejection) -> UInt64? {
        guard let text, !text.isEmpty else { return nil }
        guard let value = parseUnsigned(text) else { throw NormalizationRejection(field: name, value: text, rule: .notUnsignedInteger) }
        return value
    }

    static func unsigned32(_ name: String, _ text: String?) throws(NormalizationRejection) -> UInt32 {
        guard let value = try optionalUnsigned32(name, text) else { throw NormalizationRejection(field: name, value: nil, rule: .missing) }
        return value
    }

    static func optionalUnsigned32(_ name: String, _ text: String?) throws(NormalizationRejection) -> UInt32? {
        guard let value = try optionalUnsigned(name, text) else { return nil }
        guard value <= UInt64(UInt32.max) else { throw NormalizationRejection(field: name, value: text, rule: .outOfRange) }
        return UInt32(value)
    }

    static func optionalInteger(_ name: String, _ text: String?) throws(NormalizationRejection) -> Int64? {
        guard let text, !text.isEmpty else { return nil }
        var body = Substring(text)
        let negative = body.first == "-"
        if negative { body = body.dropFirst() }
        guard let magnitude = parseUnsigned(body) else { throw NormalizationRejection(field: name, value: text, rule: .notInteger) }
        guard magnitude <= (negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)) else {
            throw NormalizationRejection(field: name, value: text, rule: .outOfRange)
        }
        return negative ? Int64(truncatingIfNeeded: 0 &- magnitude) : Int64(magnitude)
    }

    /// A server time in milliseconds that lies in `times`; refused naming the field otherwise.
    static func plausible(_ name: String, _ milliseconds: Int64, text: String?, within times: PlausibleTimes) throws(NormalizationRejection) -> Int64 {
        guard times.contains(milliseconds) else {
            throw NormalizationRejection(field: name, value: text, rule: .timeImplausible, detail: "server time \(times)")
        }
        return milliseconds
    }

    /// A server time sent in seconds (MT5 `Time`, MT4 `open_time`/`close_time`), in milliseconds: the product is
    /// checked, a value too large for it is as implausible as any outside the window.
    static func plausible(_ name: String, seconds: Int64, text: String?, within times: PlausibleTimes) throws(NormalizationRejection) -> Int64 {
        let (milliseconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else {
            throw NormalizationRejection(field: name, value: text, rule: .timeImplausible, detail: "seconds; server time \(times)")
        }
        return try plausible(name, milliseconds, text: text, within: times)
    }

    static func optionalDecimal(_ name: String, _ text: String?) throws(NormalizationRejection) -> ExactDecimal? {
        guard let text, !text.isEmpty else { return nil }
        guard let value = ExactDecimal(parsing: text) else { throw NormalizationRejection(field: name, value: text, rule: .notDecimal) }
        return value
    }

    /// A money field: absent means zero.
    static func money(_ name: String, _ text: String?) throws(NormalizationRejection) -> ExactDecimal {
        try optionalDecimal(name, text) ?? .zero
    }

    static func scaled(_ units: UInt64, scale: UInt8, field: String, text: String?) throws(NormalizationRejection) -> ExactDecimal {
        guard let value = ExactDecimal(Int128(units), scale: scale) else { throw NormalizationRejection(field: field, value: text, rule: .outOfRange) }
        return value
    }

    /// Digits only (no sign, no point, no exponent, no spaces); nil when not or when over UInt64.
    static func parseUnsigned(_ text: some StringProtocol) -> UInt64? {
        if let value = text.utf8.withContiguousStorageIfAvailable({ DecimalDigits.parse(utf8: $0) }) { return value }
        return DecimalDigits.parse(utf8: Array(text.utf8))
    }
}
