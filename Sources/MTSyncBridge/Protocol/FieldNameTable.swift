/// Finds a record field's index from the raw bytes of its name, without building a `String` or hashing one
/// with SipHash: a small open-addressing table keyed by FNV-1a, each hit confirmed byte for byte. Decoding a
/// deal looks up ~25 names, so this is on the hottest path of a sync.
struct FieldNameTable: Sendable {
    private let names: [[UInt8]]
    private let slots: [Int16]
    private let mask: Int

    init(_ fieldNames: [String]) {
        names = fieldNames.map { Array($0.utf8) }
        var size = 16
        while size < fieldNames.count * 4 { size *= 2 }
        mask = size - 1
        var slots = [Int16](repeating: -1, count: size)
        for (index, name) in names.enumerated() {
            var slot = name.withUnsafeBufferPointer { Self.hash($0) } & (size - 1)
            while slots[slot] >= 0 { slot = (slot + 1) & (size - 1) }
            slots[slot] = Int16(index)
        }
        self.slots = slots
    }

    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01B3
        }
        return Int(truncatingIfNeeded: hash ^ (hash >> 29))
    }

    func index(of name: UnsafeBufferPointer<UInt8>) -> Int? {
        var slot = Self.hash(name) & mask
        while true {
            let candidate = slots[slot]
            guard candidate >= 0 else { return nil }
            if names[Int(candidate)].elementsEqual(name) { return Int(candidate) }
            slot = (slot + 1) & mask
        }
    }
}
