import MTSyncCore

/// The server's own symbol definitions (migration 0010, `server_symbols`), from its bridge's `symbols` stream or
/// its drop's symbols files: what the normalizer takes a contract size from when a record carries none.
public enum ServerSymbols {
    /// Stores (replaces) the definitions of `symbols`, inside the caller's transaction. Returns how many changed.
    @discardableResult
    public static func store(server: String, symbols: [ServerSymbol], source: String, on connection: isolated PostgresConnection) throws -> Int {
        guard !symbols.isEmpty else { return 0 }
        var latest: [String: ServerSymbol] = [:]
        for symbol in symbols { latest[symbol.symbol] = symbol }
        let symbols = latest.values.sorted { $0.symbol < $1.symbol }
        return try connection.query(PostgresQuery(sql: """
            INSERT INTO server_symbols AS s (server_id, symbol, path, base_currency, profit_currency, margin_currency, contract_size,
                                             digits, calc_mode, learned_from)
            SELECT $1, * , $10 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[], $8::int[], $9::int[])
            ON CONFLICT (server_id, symbol) DO UPDATE
               SET path = EXCLUDED.path, base_currency = EXCLUDED.base_currency, profit_currency = EXCLUDED.profit_currency,
                   margin_currency = EXCLUDED.margin_currency, contract_size = EXCLUDED.contract_size, digits = EXCLUDED.digits,
                   calc_mode = EXCLUDED.calc_mode, learned_from = EXCLUDED.learned_from, updated_at = now()
             WHERE (s.path, s.base_currency, s.profit_currency, s.margin_currency, s.contract_size, s.digits, s.calc_mode)
                   IS DISTINCT FROM (EXCLUDED.path, EXCLUDED.base_currency, EXCLUDED.profit_currency, EXCLUDED.margin_currency,
                                     EXCLUDED.contract_size, EXCLUDED.digits, EXCLUDED.calc_mode)
            RETURNING 1
            """, parameters: [
                server,
                PostgresArray(symbols.map(\.symbol)).postgresText, PostgresArray(symbols.map(\.path)).postgresText,
                PostgresArray(symbols.map(\.baseCurrency)).postgresText, PostgresArray(symbols.map(\.profitCurrency)).postgresText,
                PostgresArray(symbols.map(\.marginCurrency)).postgresText, PostgresArray(symbols.map { $0.contractSize?.description }).postgresText,
                PostgresArray(symbols.map { $0.digits.map(String.init) }).postgresText, PostgresArray(symbols.map { $0.calcMode.map(String.init) }).postgresText,
                source,
            ]), name: "store symbols").count
    }

    /// Every symbol the server has defined, by broker name.
    public static func load(server: String, on connection: PostgresConnection) async throws -> [String: ServerSymbol] {
        try await connection.run { connection in try loadAll(server: server, on: connection) }
    }

    /// `load` inside the caller's transaction.
    public static func loadAll(server: String, on connection: isolated PostgresConnection) throws -> [String: ServerSymbol] {
        var symbols: [String: ServerSymbol] = [:]
        for row in try connection.query("""
            SELECT symbol, path, base_currency, profit_currency, margin_currency, contract_size::text, digits, calc_mode
            FROM server_symbols WHERE server_id = \(server)
            """, name: "load symbols") {
            let symbol = ServerSymbol(
                symbol: try row.decode(String.self, 0), path: try row.decode(String?.self, 1), baseCurrency: try row.decode(String?.self, 2),
                profitCurrency: try row.decode(String?.self, 3), marginCurrency: try row.decode(String?.self, 4),
                contractSize: try row.decode(String?.self, 5).flatMap { ExactDecimal(parsing: $0) }, digits: try row.decode(Int?.self, 6),
                calcMode: try row.decode(Int?.self, 7))
            symbols[symbol.symbol] = symbol
        }
        return symbols
    }
}
