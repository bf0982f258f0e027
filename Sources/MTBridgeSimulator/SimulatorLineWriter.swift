import MTSyncBridge
import MTSyncCore
import NIOCore
import Synchronization

/// Faults that fire once per simulator (not per connection), so a reconnecting client gets past them.
final class FaultCounters: Sendable {
    struct State {
        var generation = 0
        /// Positions below this get `changes_expired` (0: every position is answered).
        var changesKeptFrom: Int64 = 0
        var unavailableAnswered = 0
        var malformedSent = false
        var oversizeSent = false
        var statistics = SimulatorStatistics()
    }

    private let state = Mutex(State())

    var generation: Int { state.withLock { $0.generation } }

    func setGeneration(_ generation: Int) { state.withLock { $0.generation = generation } }

    var changesKeptFrom: Int64 { state.withLock { $0.changesKeptFrom } }

    func setChangesKeptFrom(_ sequence: Int64) { state.withLock { $0.changesKeptFrom = sequence } }

    var statistics: SimulatorStatistics { state.withLock { $0.statistics } }

    func count(_ update: (inout SimulatorStatistics) -> Void) { state.withLock { update(&$0.statistics) } }

    /// Whether the drop fault may fire once more (nil limit: always), counting it when it does.
    func takeDrop(limit: Int?) -> Bool {
        state.withLock { state in
            if let limit, state.statistics.droppedConnections >= limit { return false }
            state.statistics.droppedConnections += 1
            return true
        }
    }

    func takeUnavailable(limit: Int) -> Bool {
        state.withLock { state in
            guard state.unavailableAnswered < limit else { return false }
            state.unavailableAnswered += 1
            return true
        }
    }

    func takeOnce(_ flag: WritableKeyPath<State, Bool>) -> Bool {
        state.withLock { state in
            guard !state[keyPath: flag] else { return false }
            state[keyPath: flag] = true
            return true
        }
    }
}

/// Buffers outgoing lines and writes them in large chunks.
struct LineWriter {
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var buffer = ByteBuffer()

    init(outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.outbound = outbound
        buffer.reserveCapacity(300 * 1024)
    }

    var pendingBytes: Int { buffer.readableBytes }

    mutating func raw(_ line: [UInt8]) {
        buffer.writeBytes(line)
        buffer.writeInteger(UInt8(ascii: "\n"))
    }

    mutating func send(_ message: JSONValue) async throws {
        raw(message.serialized())
    }

    /// Writes `bytes` one at a time, `every` apart (what buffered earlier goes first): a bridge that is alive but
    /// never finishes a line.
    mutating func trickle(_ bytes: [UInt8], every interval: Duration) async throws {
        try await flush()
        for byte in bytes {
            buffer.writeInteger(byte)
            try await flush()
            try await Task.sleep(for: interval)
        }
    }

    mutating func record(type: String, id: String, data deal: MT5DealRecord) {
        raw(JSONValue.object([("type", .string(type)), ("id", .string(id)), ("data", Self.dealObject(deal))]).serialized())
    }

    static func dealObject(_ deal: MT5DealRecord) -> JSONValue {
        var fields: [(String, JSONValue)] = []
        let values: [String?] = [deal.deal, deal.login, deal.order, deal.positionID, deal.action, deal.entry, deal.reason, deal.time, deal.timeMsc,
                                 deal.symbol, deal.volume, deal.volumeExt, nil, deal.price, deal.profit, deal.storage, deal.commission, deal.fee,
                                 deal.contractSize, deal.digits, deal.digitsCurrency, nil, nil, deal.comment, deal.externalID, nil, deal.volumeClosedExt]
        for (name, value) in zip(MT5DealRecord.fieldNames, values) {
            guard let value else { continue }
            // Tickets, logins and money go as strings (as the MT5 Web API sends them); small enums as numbers.
            let isSmallNumber = ["Action", "Entry", "Reason", "Digits", "DigitsCurrency"].contains(name)
            fields.append((name, isSmallNumber ? .number(value) : .string(value)))
        }
        return .object(fields)
    }

    /// An MT4 `TradeRecord` as an MT4 bridge naturally sends it: numbers as JSON numbers (all digits), symbol and
    /// comment as strings, and `timestamp`, the record's last change (§4.3).
    /// An `account` record (§4.4): numbers as JSON numbers, the rest as strings, absent fields left out.
    static func accountObject(_ account: RawAccountRecord) -> JSONValue {
        let numbers: Set<String> = ["leverage", "updated_ms"]
        return .object(RawAccountRecord.fieldNames.enumerated().compactMap { index, name in
            account.value(fieldAt: index).map { value in (name, numbers.contains(name) ? (Int64(value).map(JSONValue.integer) ?? .string(value)) : .string(value)) }
        })
    }

    /// A `daily` record (§4.8): `time_ms` a JSON number, the rest strings.
    static func dailyObject(_ record: RawDailyRecord) -> JSONValue {
        .object(RawDailyRecord.fieldNames.enumerated().compactMap { index, name in
            record.value(fieldAt: index).map { value in (name, name == "time_ms" ? (Int64(value).map(JSONValue.integer) ?? .string(value)) : .string(value)) }
        })
    }

    /// A `symbols` record (§4.5). Currencies come from an FX-style name (EURUSD.pro → EUR, USD); indices,
    /// stocks and crypto CFDs quote in USD.
    static func symbolObject(_ symbol: String, platform: Platform) -> JSONValue {
        let letters = symbol.uppercased().filter { $0.isLetter }
        let currencies: Set<Substring> = ["EUR", "USD", "GBP", "JPY", "CHF", "AUD", "CAD", "NZD", "XAU", "XAG", "BTC"]
        let base = letters.prefix(3), quote = letters.dropFirst(3).prefix(3)
        let isPair = currencies.contains(base) && currencies.contains(quote)
        // US30 at 10 a lot, as some brokers define it: the server's definition wins over the rules table's 1.
        let contractSize = symbol.hasPrefix("XAU") ? "100" : symbol.contains("US30") ? "10" : (symbol.contains("AAPL") || symbol.contains("BTC") ? "1" : "100000")
        return [
            "symbol": .string(symbol), "path": .string("Sim\\\(symbol)"),
            "base_currency": .string(isPair ? String(base) : "USD"), "profit_currency": .string(isPair ? String(quote) : "USD"),
            "margin_currency": .string(isPair ? String(base) : "USD"),
            "contract_size": .string(platform == .mt4 ? contractSize : (symbol.hasPrefix("XAU") ? "100" : "100000")),
            "digits": .integer(platform == .mt4 ? SimulatedDataset.mt4Digits(symbol) : 5), "calc_mode": .integer(0),
        ]
    }

    static func tradeObject(_ trade: MT4TradeRecord) -> JSONValue {
        var fields: [(String, JSONValue)] = []
        for (index, name) in MT4TradeRecord.fieldNames.enumerated() {
            guard let value = trade.value(fieldAt: index) else { continue }
            fields.append((name, name == "symbol" || name == "comment" ? .string(value) : .number(value)))
        }
        return .object(fields)
    }

    mutating func error(id: String?, code: String, retryable: Bool, message: String) async throws {
        try await send(["type": "error", "id": id.map { .string($0) } ?? .null, "code": .string(code), "retryable": .bool(retryable), "message": .string(message)])
        try await flush()
    }

    mutating func flush() async throws {
        guard buffer.readableBytes > 0 else { return }
        try await outbound.write(buffer)
        buffer.clear()
    }
}
