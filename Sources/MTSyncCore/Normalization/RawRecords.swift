/// A raw MetaTrader record whose fields are set by their protocol names (or their index in `fieldNames`).
public protocol RawFieldRecord: Sendable, Hashable {
    init()
    static var fieldNames: [String] { get }
    static var fieldIndex: [String: Int] { get }
    mutating func set(fieldAt index: Int, _ value: String?)
    /// The value of the field at `index` in `fieldNames` (for writers: CSV drops, the simulator).
    func value(fieldAt index: Int) -> String?
}

/// An MT5 deal as the bridge passes it through: MT5 Manager API / Web API field names (`IMTDeal`), each value
/// kept as the text the bridge sent (a JSON number's literal digits, or a string's content), so that nothing
/// is parsed through binary floating point and the normalizer can say exactly which field was malformed.
public struct MT5DealRecord: RawFieldRecord {
    public var deal: String?
    public var login: String?
    public var order: String?
    public var positionID: String?
    public var action: String?
    public var entry: String?
    public var reason: String?
    public var time: String?
    public var timeMsc: String?
    public var symbol: String?
    public var volume: String?
    public var volumeExt: String?
    public var volumeClosed: String?
    public var price: String?
    public var profit: String?
    public var storage: String?
    public var commission: String?
    public var fee: String?
    public var contractSize: String?
    public var digits: String?
    public var digitsCurrency: String?
    public var rateProfit: String?
    public var expertID: String?
    public var comment: String?
    public var externalID: String?
    public var flags: String?
    /// `IMTDeal::VolumeClosedExt`: the position volume this deal closed, 1/10^8 lot (§4.2, MAY).
    public var volumeClosedExt: String?

    public init() {}

    /// The Manager API names this record reads, as they appear in the bridge protocol.
    public static let fieldNames: [String] = [
        "Deal", "Login", "Order", "PositionID", "Action", "Entry", "Reason", "Time", "TimeMsc", "Symbol", "Volume",
        "VolumeExt", "VolumeClosed", "Price", "Profit", "Storage", "Commission", "Fee", "ContractSize", "Digits",
        "DigitsCurrency", "RateProfit", "ExpertID", "Comment", "ExternalID", "Flags", "VolumeClosedExt",
    ]

    /// Field name → position in `fieldNames`, for decoders that set fields by index (one hash lookup instead
    /// of comparing the name with every field in turn).
    public static let fieldIndex: [String: Int] = Dictionary(uniqueKeysWithValues: fieldNames.enumerated().map { ($1, $0) })

    /// Sets a field by its Manager API name; other names (fields mtsync does not use) are ignored.
    public mutating func set(_ name: String, _ value: String?) {
        if let index = Self.fieldIndex[name] { set(fieldAt: index, value) }
    }

    /// Sets the field at `index` in `fieldNames`.
    public mutating func set(fieldAt index: Int, _ value: String?) {
        switch index {
        case 0: deal = value
        case 1: login = value
        case 2: order = value
        case 3: positionID = value
        case 4: action = value
        case 5: entry = value
        case 6: reason = value
        case 7: time = value
        case 8: timeMsc = value
        case 9: symbol = value
        case 10: volume = value
        case 11: volumeExt = value
        case 12: volumeClosed = value
        case 13: price = value
        case 14: profit = value
        case 15: storage = value
        case 16: commission = value
        case 17: fee = value
        case 18: contractSize = value
        case 19: digits = value
        case 20: digitsCurrency = value
        case 21: rateProfit = value
        case 22: expertID = value
        case 23: comment = value
        case 24: externalID = value
        case 25: flags = value
        case 26: volumeClosedExt = value
        default: break
        }
    }

    /// Key paths in `fieldNames` order.
    static let fieldKeyPaths: [any KeyPath<Self, String?> & Sendable] = [
        \.deal, \.login, \.order, \.positionID, \.action, \.entry, \.reason, \.time, \.timeMsc, \.symbol, \.volume, \.volumeExt, \.volumeClosed, \.price, \.profit, \.storage, \.commission, \.fee, \.contractSize, \.digits, \.digitsCurrency, \.rateProfit, \.expertID, \.comment, \.externalID, \.flags, \.volumeClosedExt,
    ]

    public func value(fieldAt index: Int) -> String? {
        Self.fieldKeyPaths.indices.contains(index) ? self[keyPath: Self.fieldKeyPaths[index]] : nil
    }

    public init(fields: [String: String]) {
        for (name, value) in fields { set(name, value) }
    }
}

/// An MT4 trade record as the bridge passes it through: MT4 Manager API `TradeRecord` field names, values kept
/// as sent (see `MT5DealRecord`). `state` and `reason` are both accepted; MT4 stores the reason in a `char`.
public struct MT4TradeRecord: RawFieldRecord {
    public var order: String?
    public var login: String?
    public var symbol: String?
    public var digits: String?
    public var cmd: String?
    public var volume: String?
    public var openTime: String?
    public var closeTime: String?
    public var openPrice: String?
    public var closePrice: String?
    public var sl: String?
    public var tp: String?
    public var commission: String?
    public var commissionAgent: String?
    public var storage: String?
    public var profit: String?
    public var taxes: String?
    public var magic: String?
    public var comment: String?
    public var state: String?
    public var reason: String?
    /// When the record last changed (MT4 `TradeRecord::timestamp`, server time in seconds): lets a bridge and
    /// mtsync tell an edited record from an unchanged one.
    public var timestamp: String?

    public init() {}

    public static let fieldNames: [String] = [
        "order", "login", "symbol", "digits", "cmd", "volume", "open_time", "close_time", "open_price",
        "close_price", "sl", "tp", "commission", "commission_agent", "storage", "profit", "taxes", "magic",
        "comment", "state", "reason", "timestamp",
    ]

    public static let fieldIndex: [String: Int] = Dictionary(uniqueKeysWithValues: fieldNames.enumerated().map { ($1, $0) })

    public mutating func set(_ name: String, _ value: String?) {
        if let index = Self.fieldIndex[name] { set(fieldAt: index, value) }
    }

    public mutating func set(fieldAt index: Int, _ value: String?) {
        switch index {
        case 0: order = value
        case 1: login = value
        case 2: symbol = value
        case 3: digits = value
        case 4: cmd = value
        case 5: volume = value
        case 6: openTime = value
        case 7: closeTime = value
        case 8: openPrice = value
        case 9: closePrice = value
        case 10: sl = value
        case 11: tp = value
        case 12: commission = value
        case 13: commissionAgent = value
        case 14: storage = value
        case 15: profit = value
        case 16: taxes = value
        case 17: magic = value
        case 18: comment = value
        case 19: state = value
        case 20: reason = value
        case 21: timestamp = value
        default: break
        }
    }

    /// Key paths in `fieldNames` order.
    static let fieldKeyPaths: [any KeyPath<Self, String?> & Sendable] = [
        \.order, \.login, \.symbol, \.digits, \.cmd, \.volume, \.openTime, \.closeTime, \.openPrice, \.closePrice, \.sl, \.tp, \.commission, \.commissionAgent, \.storage, \.profit, \.taxes, \.magic, \.comment, \.state, \.reason, \.timestamp,
    ]

    public func value(fieldAt index: Int) -> String? {
        Self.fieldKeyPaths.indices.contains(index) ? self[keyPath: Self.fieldKeyPaths[index]] : nil
    }

    public init(fields: [String: String]) {
        for (name, value) in fields { set(name, value) }
    }
}

/// One raw record of either platform, as received: what a held (pending) record keeps until its account is known.
public enum RawRecord: Sendable, Hashable {
    case deal(MT5DealRecord)
    case trade(MT4TradeRecord)

    /// The fields that were sent, by protocol name, values as received.
    public var fields: [(name: String, value: String)] {
        switch self {
        case .deal(let deal): Self.fields(of: deal)
        case .trade(let trade): Self.fields(of: trade)
        }
    }

    private static func fields<Record: RawFieldRecord>(of record: Record) -> [(name: String, value: String)] {
        Record.fieldNames.enumerated().compactMap { index, name in record.value(fieldAt: index).map { (name, $0) } }
    }

    /// A record of `platform` from fields by protocol name (names it does not know are ignored).
    public init(platform: Platform, fields: some Sequence<(String, String)>) {
        switch platform {
        case .mt5:
            var deal = MT5DealRecord()
            for (name, value) in fields { deal.set(name, value) }
            self = .deal(deal)
        case .mt4:
            var trade = MT4TradeRecord()
            for (name, value) in fields { trade.set(name, value) }
            self = .trade(trade)
        }
    }
}
