/// A symbol as the trade server defines it, from the bridge's `symbols` stream or a drop's symbols file
/// (bridge-protocol §4.5): the server's own contract size wins over the rules file's table for facts whose record
/// does not carry one (MT4 trade records never do).
public struct ServerSymbol: Sendable, Hashable {
    /// The broker's name, exactly as deals carry it (`EURUSD.pro`).
    public var symbol: String
    public var path: String?
    public var baseCurrency: String?
    /// The currency a deal's profit is computed in (the quote currency of an FX pair).
    public var profitCurrency: String?
    public var marginCurrency: String?
    public var contractSize: ExactDecimal?
    public var digits: Int?
    public var calcMode: Int?

    public init(
        symbol: String, path: String? = nil, baseCurrency: String? = nil, profitCurrency: String? = nil, marginCurrency: String? = nil,
        contractSize: ExactDecimal? = nil, digits: Int? = nil, calcMode: Int? = nil
    ) {
        self.symbol = symbol
        self.path = path
        self.baseCurrency = baseCurrency
        self.profitCurrency = profitCurrency
        self.marginCurrency = marginCurrency
        self.contractSize = contractSize
        self.digits = digits
        self.calcMode = calcMode
    }
}

/// A symbol record as the bridge sends it (§4.5), values as received.
public struct RawSymbolRecord: RawFieldRecord {
    public var symbol: String?
    public var path: String?
    public var baseCurrency: String?
    public var profitCurrency: String?
    public var marginCurrency: String?
    public var contractSize: String?
    public var digits: String?
    public var calcMode: String?

    public init() {}

    public static let fieldNames = ["symbol", "path", "base_currency", "profit_currency", "margin_currency", "contract_size", "digits", "calc_mode"]
    public static let fieldIndex: [String: Int] = Dictionary(uniqueKeysWithValues: fieldNames.enumerated().map { ($1, $0) })

    static let fieldKeyPaths: [WritableKeyPath<Self, String?> & Sendable] = [
        \.symbol, \.path, \.baseCurrency, \.profitCurrency, \.marginCurrency, \.contractSize, \.digits, \.calcMode,
    ]

    public mutating func set(fieldAt index: Int, _ value: String?) {
        if Self.fieldKeyPaths.indices.contains(index) { self[keyPath: Self.fieldKeyPaths[index]] = value }
    }

    public func value(fieldAt index: Int) -> String? {
        Self.fieldKeyPaths.indices.contains(index) ? self[keyPath: Self.fieldKeyPaths[index]] : nil
    }

    /// Validates the record: `symbol` present; `contract_size` an exact decimal above zero; `digits` 0 to 18;
    /// `calc_mode` a non-negative integer; currencies as text (upper-cased).
    public func normalized() -> Result<ServerSymbol, NormalizationRejection> {
        do {
            return .success(try normalizedOrThrow())
        } catch {
            return .failure(error)
        }
    }

    private func normalizedOrThrow() throws(NormalizationRejection) -> ServerSymbol {
        guard let symbol, !symbol.isEmpty else { throw NormalizationRejection(field: "symbol", value: symbol, rule: .missing) }
        let contractSize = try Field.optionalDecimal("contract_size", contractSize)
        if let contractSize, contractSize <= .zero {
            throw NormalizationRejection(field: "contract_size", value: self.contractSize, rule: .notPositive)
        }
        let digits = try Field.optionalInteger("digits", digits)
        if let digits, !(0...18).contains(digits) {
            throw NormalizationRejection(field: "digits", value: self.digits, rule: .outOfRange, detail: "0 to 18")
        }
        let calcMode = try Field.optionalInteger("calc_mode", calcMode)
        if let calcMode, !(0...Int64(Int32.max)).contains(calcMode) {
            throw NormalizationRejection(field: "calc_mode", value: self.calcMode, rule: .outOfRange)
        }
        func code(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0.uppercased() } }
        return ServerSymbol(
            symbol: symbol, path: path.flatMap { $0.isEmpty ? nil : $0 }, baseCurrency: code(baseCurrency), profitCurrency: code(profitCurrency),
            marginCurrency: code(marginCurrency), contractSize: contractSize, digits: digits.map { Int($0) }, calcMode: calcMode.map { Int($0) })
    }
}
