import Crypto

/// The content hash of a fact: SHA-256 over a canonical text of every field except the revision.
///
/// The store compares it to decide "same content: nothing to do" versus "changed: revision + 1", so it must be
/// stable across mtsync versions for unchanged content: fields are written in a fixed order, one per line, as
/// `name=value` with exact decimals in canonical form and absent values as empty text. Adding a field to the
/// model must not change the text of facts that lack it (append it only when present), or every stored fact
/// would look changed after an upgrade.
enum FactHasher {
    static func canonicalText(of fact: TradingFact) -> String {
        var text = ""
        text.reserveCapacity(320)
        func line(_ name: String, _ value: String?) {
            text += name
            text += "="
            if let value { text += value }
            text += "\n"
        }
        line("server", fact.identity.server.rawValue)
        line("platform", fact.platform.rawValue)
        line("ticket", String(fact.identity.ticket))
        line("leg", fact.identity.leg?.rawValue)
        line("login", String(fact.login))
        line("kind", fact.kind.rawValue)
        line("raw_action", String(fact.rawAction))
        line("side", fact.side?.rawValue)
        line("entry", fact.entry?.rawValue)
        line("time_utc_ms", String(fact.timeUTCMilliseconds))
        line("server_time_ms", String(fact.serverTimeMilliseconds))
        line("zone", fact.zone)
        line("symbol", fact.symbol)
        line("symbol_canonical", fact.symbolCanonical)
        line("asset_class", fact.assetClass?.rawValue)
        line("contract_size", fact.contractSize?.description)
        line("lots", fact.lots.description)
        line("price", fact.price?.description)
        line("profit", fact.profit.description)
        line("swap", fact.swap.description)
        line("commission", fact.commission.description)
        line("fee", fact.fee.description)
        line("taxes", fact.taxes.description)
        line("net", fact.net.description)
        line("technical", fact.technical ? "true" : "false")
        line("currency", fact.currency)
        line("order", fact.order.map { String($0) })
        line("position", fact.position.map { String($0) })
        line("reason", fact.reason.map { String($0) })
        line("comment", fact.comment)
        return text
    }

    static func contentHash(of fact: TradingFact) -> String {
        let digest = SHA256.hash(data: Array(canonicalText(of: fact).utf8))
        let hex = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in digest {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
