import MTSyncStore

extension LeaseHolder {
    /// A process named `name` for lease tests: the same name gives the same token, so `.test("a")` twice is one
    /// process, and `.test("a")` and `.test("b")` are two. The instance id is the name unless `instance` is given
    /// (two processes of one instance: `.test("a-1", instance: "a")`, `.test("a-2", instance: "a")`).
    public static func test(_ name: String, instance: String? = nil) -> LeaseHolder {
        // FNV-1a: stable across runs, unlike Hasher.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return LeaseHolder(instanceID: instance ?? name, token: Int64(bitPattern: hash), host: "test-host", pid: 4242)
    }
}
