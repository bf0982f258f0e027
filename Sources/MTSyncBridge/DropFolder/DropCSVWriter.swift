import MTSyncCore

/// Writes a drop file's bytes the way the reference writer publishes them (bridge-protocol/README.md §7.2): a header
/// of every field name of `Record`, then one row per record, a value quoted when RFC 4180 requires it (a comma, a
/// quote or a line break in it), LF line ends. The reader of the same format is `CSVParser` with `DropRowDecoder`.
public enum DropCSVWriter {
    public static func file<Record: RawFieldRecord>(_ records: [Record]) -> [UInt8] {
        var out: [UInt8] = []
        out.append(contentsOf: Record.fieldNames.joined(separator: ",").utf8)
        out.append(UInt8(ascii: "\n"))
        for record in records {
            for index in Record.fieldNames.indices {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                guard let value = record.value(fieldAt: index) else { continue }
                if value.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }) {
                    out.append(UInt8(ascii: "\""))
                    for byte in value.utf8 {
                        if byte == UInt8(ascii: "\"") { out.append(byte) }
                        out.append(byte)
                    }
                    out.append(UInt8(ascii: "\""))
                } else {
                    out.append(contentsOf: value.utf8)
                }
            }
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }
}
