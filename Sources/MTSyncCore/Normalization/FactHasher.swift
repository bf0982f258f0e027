import Crypto

/// The content hash of a fact: SHA-256 over a canonical text of every field except the revision.
///
/// The store compares it to decide "same content: nothing to do" versus "changed: revision + 1", so it must be
/// stable across mtsync versions for unchanged content: fields are written in a fixed order, one per line, as
/// `name=value` with exact decimals in canonical form and absent values as empty text. Adding a field to the
/// model must not change the text of facts that lack it (append it only when present), or every stored fact
/// would look changed after an upgrade.
enum FactHasher {
    /// The canonical text as UTF-8 bytes, written straight into one buffer (no intermediate strings: hashing
    /// runs once per fact on the hot path).
    static func canonicalBytes(of fact: TradingFact) -> [UInt8] {
        var text = CanonicalText()
        text.line("server", fact.identity.server.rawValue)
        text.line("platform", fact.platform.rawValue)
        text.line("ticket", fact.identity.ticket)
        text.line("leg", fact.identity.leg?.rawValue)
        text.line("login", fact.login)
        text.line("kind", fact.kind.rawValue)
        text.line("raw_action", fact.rawAction)
        text.line("side", fact.side?.rawValue)
        text.line("entry", fact.entry?.rawValue)
        text.line("time_utc_ms", fact.timeUTCMilliseconds)
        text.line("server_time_ms", fact.serverTimeMilliseconds)
        text.line("zone", fact.zone)
        text.line("symbol", fact.symbol)
        text.line("symbol_canonical", fact.symbolCanonical)
        text.line("asset_class", fact.assetClass?.rawValue)
        text.line("contract_size", fact.contractSize)
        text.line("lots", fact.lots)
        text.line("price", fact.price)
        text.line("profit", fact.profit)
        text.line("swap", fact.swap)
        text.line("commission", fact.commission)
        text.line("fee", fact.fee)
        text.line("taxes", fact.taxes)
        text.line("net", fact.net)
        text.line("technical", fact.technical ? "true" : "false")
        text.line("currency", fact.currency)
        text.line("order", fact.order)
        text.line("position", fact.position)
        text.line("reason", fact.reason)
        text.line("comment", fact.comment)
        // Added after the first release: written only when present, so facts without it keep their hash.
        if let closedLots = fact.closedLots { text.line("closed_lots", closedLots) }
        return text.bytes
    }

    static func contentHash(of fact: TradingFact) -> String {
        let digest = SHA256.hash(data: canonicalBytes(of: fact))
        return Hex.encode(digest)
    }
}

/// `name=value\n` lines; an absent value is written as nothing after `=`.
private struct CanonicalText {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(512) }

    mutating func name(_ name: StaticString) {
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "="))
    }

    mutating func line(_ name: StaticString, _ value: String?) {
        self.name(name)
        if var value { value.withUTF8 { bytes.append(contentsOf: $0) } }
        bytes.append(UInt8(ascii: "\n"))
    }

    mutating func line(_ name: StaticString, _ value: ExactDecimal?) {
        self.name(name)
        value?.write(into: &bytes)
        bytes.append(UInt8(ascii: "\n"))
    }

    mutating func line(_ name: StaticString, _ value: (some BinaryInteger)?) {
        self.name(name)
        if let value {
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            var magnitude = UInt64(value.magnitude)
            let start = bytes.count
            repeat {
                bytes.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
                magnitude /= 10
            } while magnitude > 0
            bytes[start...].reverse()
        }
        bytes.append(UInt8(ascii: "\n"))
    }
}
