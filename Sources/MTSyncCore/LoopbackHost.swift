/// Whether a host name stays on this machine: `localhost`, an IPv4 literal in 127.0.0.0/8, or `::1` (brackets
/// allowed). Traffic to such a host never crosses a network, which is what the configuration's `http://` rule and
/// the database-transport warning both ask.
public enum LoopbackHost {
    public static func contains(_ host: String) -> Bool {
        var name = Substring(host.lowercased())
        if name.hasPrefix("["), name.hasSuffix("]") { name = name.dropFirst().dropLast() }
        if name == "localhost" || name == "::1" { return true }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127"
            && parts.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy { $0.isASCII && $0.isNumber } }
    }
}
