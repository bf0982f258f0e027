/// An MT5 deal as the bridge passes it through: MT5 Manager API / Web API field names (`IMTDeal`), each value
/// kept as the text the bridge sent (a JSON number's literal digits, or a string's content), so that nothing
/// is parsed through binary floating point and the normalizer can say exactly which field was malformed.
public struct MT5DealRecord: Sendable, Hashable {
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

    public init() {}

    /// The Manager API names this record reads, as they appear in the bridge protocol.
    public static let fieldNames: [String] = [
        "Deal", "Login", "Order", "PositionID", "Action", "Entry", "Reason", "Time", "TimeMsc", "Symbol", "Volume",
        "VolumeExt", "VolumeClosed", "Price", "Profit", "Storage", "Commission", "Fee", "ContractSize", "Digits",
        "DigitsCurrency", "RateProfit", "ExpertID", "Comment", "ExternalID", "Flags",
    ]

    /// Sets a field by its Manager API name; other names (fields mtsync does not use) are ignored.
    public mutating func set(_ name: String, _ value: String?) {
        switch name {
        case "Deal": deal = value
        case "Login": login = value
        case "Order": order = value
        case "PositionID": positionID = value
        case "Action": action = value
        case "Entry": entry = value
        case "Reason": reason = value
        case "Time": time = value
        case "TimeMsc": timeMsc = value
        case "Symbol": symbol = value
        case "Volume": volume = value
        case "VolumeExt": volumeExt = value
        case "VolumeClosed": volumeClosed = value
        case "Price": price = value
        case "Profit": profit = value
        case "Storage": storage = value
        case "Commission": commission = value
        case "Fee": fee = value
        case "ContractSize": contractSize = value
        case "Digits": digits = value
        case "DigitsCurrency": digitsCurrency = value
        case "RateProfit": rateProfit = value
        case "ExpertID": expertID = value
        case "Comment": comment = value
        case "ExternalID": externalID = value
        case "Flags": flags = value
        default: break
        }
    }

    public init(fields: [String: String]) {
        for (name, value) in fields { set(name, value) }
    }
}

/// An MT4 trade record as the bridge passes it through: MT4 Manager API `TradeRecord` field names, values kept
/// as sent (see `MT5DealRecord`). `state` and `reason` are both accepted; MT4 stores the reason in a `char`.
public struct MT4TradeRecord: Sendable, Hashable {
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

    public init() {}

    public static let fieldNames: [String] = [
        "order", "login", "symbol", "digits", "cmd", "volume", "open_time", "close_time", "open_price",
        "close_price", "sl", "tp", "commission", "commission_agent", "storage", "profit", "taxes", "magic",
        "comment", "state", "reason",
    ]

    public mutating func set(_ name: String, _ value: String?) {
        switch name {
        case "order": order = value
        case "login": login = value
        case "symbol": symbol = value
        case "digits": digits = value
        case "cmd": cmd = value
        case "volume": volume = value
        case "open_time": openTime = value
        case "close_time": closeTime = value
        case "open_price": openPrice = value
        case "close_price": closePrice = value
        case "sl": sl = value
        case "tp": tp = value
        case "commission": commission = value
        case "commission_agent": commissionAgent = value
        case "storage": storage = value
        case "profit": profit = value
        case "taxes": taxes = value
        case "magic": magic = value
        case "comment": comment = value
        case "state": state = value
        case "reason": reason = value
        default: break
        }
    }

    public init(fields: [String: String]) {
        for (name, value) in fields { set(name, value) }
    }
}
