import MTSyncApp
import Testing

@Suite("Sizes as the configuration file writes them, and the drop folder's max_file_size")
struct ByteSizeTextTests {
    @Test("bytes and binary units parse", arguments: [
        ("65536", Int64(65536)), ("100B", 100), ("512KiB", 524_288), ("64MiB", 67_108_864), ("4GiB", 4_294_967_296),
        ("1TiB", 1_099_511_627_776), (" 2 GiB ", 2_147_483_648),
    ])
    func parses(_ text: String, _ expected: Int64) {
        #expect(ByteSizeText.parse(text) == expected)
    }

    @Test("decimal units, fractions, signs and overflow are refused", arguments: ["", "GiB", "4GB", "4gib", "1.5GiB", "-1", "4 G", "999999999999999TiB"])
    func refuses(_ text: String) {
        #expect(ByteSizeText.parse(text) == nil)
    }

    @Test("format writes the largest exact unit", arguments: [(Int64(4) << 30, "4GiB"), (1536 << 10, "1536KiB"), (1000, "1000")])
    func formats(_ bytes: Int64, _ expected: String) {
        #expect(ByteSizeText.format(bytes) == expected)
        #expect(ByteSizeText.parse(expected) == bytes)
    }

    @Test("drop.max_file_size: 4GiB unless set; a size of at least 1KiB when set")
    func dropMaxFileSize() throws {
        let fixture = try ConfigurationFixture()
        let standard = try fixture.load(ConfigurationFixture.minimal())
        #expect(standard.servers.first?.source == .drop(.init(folder: fixture.path("drop"), maxFileBytes: 4 << 30)))
        #expect(standard.servers.first?.summary.contains("files up to 4GiB") == true)

        let set = ConfigurationFixture.minimal().replacingOccurrences(of: "drop: { folder: drop }", with: "drop: { folder: drop, max_file_size: 512MiB }")
        #expect(try fixture.load(set).servers.first?.source == .drop(.init(folder: fixture.path("drop"), maxFileBytes: 512 << 20)))

        for bad in ["lots", "4GB", "100"] {
            let text = ConfigurationFixture.minimal().replacingOccurrences(of: "drop: { folder: drop }", with: "drop: { folder: drop, max_file_size: \(bad) }")
            let problems = fixture.problems(text)
            #expect(problems.map(\.path) == ["servers[0].drop.max_file_size"], "\(bad): \(problems)")
            #expect(problems.first?.message.contains("at least 1KiB") == true)
        }
    }
}
