// swift-tools-version: 6.1
// mtsync — MetaTrader sync bridge daemon.
//
// Targets are layered one way (see ../shared/design.md and README "Architecture"):
//   CLibPQ (system libpq) ← MTSyncStore (PostgreSQL: connection, COPY, migrations)
//   MTSyncCore (pure domain, Foundation only) ← MTSyncStore ← mtsync (CLI)
// Later layers (Bridge, Ingest, Engine) slot in between Store and the CLI.
import PackageDescription

let package = Package(
    name: "mtsync",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mtsync", targets: ["mtsync"]),
        .executable(name: "mtbridge-sim", targets: ["mtbridge-sim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // SHA-256 for migration checksums now; HMAC and SigV4 in the bridge and ingest layers later.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.0"..<"5.0.0"),
        // TCP for the bridge protocol: the client and the reference simulator.
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.29.0"),
        // The daemon: graceful shutdown on SIGTERM/SIGINT, and structured logs.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // The configuration file (YAML), read into Node trees so every problem can be reported with its line.
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        // HTTP for the ingest: AWS SQS (JSON 1.0 protocol, SigV4 by hand: no Swift AWS SDK here) and the HTTP
        // data-ingest. The heaviest dependency (minutes on a first build); nothing else needs an HTTP client.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.21.0"),
        // Operations (issue 11): the engine counts through swift-metrics; Prometheus renders them; Hummingbird serves
        // /metrics, /healthz and /readyz. Hummingbird shares NIO, service-lifecycle, swift-log and swift-metrics with
        // what is already here, so it adds little to a first build.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
    ],
    targets: [
        // libpq, the PostgreSQL client library: connection strings, PG* variables, sslmode, COPY.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        // The domain core: no I/O, no clock, no globals. Crypto only for SHA-256 content hashes.
        .target(name: "MTSyncCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // PostgreSQL through libpq: connections on their own threads, typed errors, COPY, migrations.
        .target(
            name: "MTSyncStore",
            dependencies: [
                "CLibPQ",
                "MTSyncCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            plugins: ["EmbedMigrations"]
        ),
        // The bridge protocol: record decoding now; the TCP client and CSV drop reader come with it.
        .target(name: "MTSyncBridge", dependencies: ["MTSyncCore", .product(name: "Crypto", package: "swift-crypto")]),
        // The bridge protocol over TCP (SwiftNIO): line framing and the authenticated client connection.
        .target(
            name: "MTSyncBridgeTransport",
            dependencies: [
                "MTSyncBridge", "MTSyncCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The reference bridge: a deterministic dataset and the server side of the protocol.
        .target(
            name: "MTBridgeSimulator",
            dependencies: [
                "MTSyncBridge", "MTSyncCore", "MTSyncBridgeTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Jobs that tie the bridge to the store: CSV drop intake now; sync, backfill and reconcile next.
        .target(
            name: "MTSyncEngine",
            dependencies: [
                "MTSyncBridge", "MTSyncBridgeTransport", "MTSyncStore", "MTSyncCore", "MTSyncIngest",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Running it in production: the Prometheus exposition of the engine's metrics, the /metrics /healthz /readyz
        // server, and the log line formats (logfmt, JSON) with secret redaction.
        .target(
            name: "MTSyncOperations",
            dependencies: [
                "MTSyncEngine", "MTSyncStore", "MTSyncCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The ingest contract, pure: the message envelope, packing facts into messages, the sink protocol, SigV4
        // signing and the SQS JSON protocol's requests and responses.
        .target(name: "MTSyncIngest", dependencies: ["MTSyncCore", .product(name: "Crypto", package: "swift-crypto")]),
        // The ingest over HTTP (AsyncHTTPClient): the SQS client and the HTTP data-ingest sink.
        .target(
            name: "MTSyncIngestTransport",
            dependencies: [
                "MTSyncIngest", "MTSyncCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The configuration file: YAML into validated values, every problem reported with its location.
        .target(name: "MTSyncConfiguration", dependencies: ["MTSyncCore", .product(name: "Yams", package: "Yams")]),
        // The `mtsync` command line.
        .executableTarget(
            name: "mtsync",
            dependencies: [
                "MTSyncCore",
                "MTSyncBridge",
                "MTSyncBridgeTransport",
                "MTSyncStore",
                "MTSyncConfiguration",
                "MTSyncEngine",
                "MTSyncIngest",
                "MTSyncIngestTransport",
                "MTSyncOperations",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The reference bridge as a program: mtbridge-sim --help
        .executableTarget(
            name: "mtbridge-sim",
            dependencies: ["MTBridgeSimulator", "MTSyncBridge", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Benchmarks of the hot paths (not tests): swift run -c release mtsync-bench; `ceiling` writes what
        // scripts/bench times with psql (the store's own staging rows and merge SQL).
        .executableTarget(
            name: "mtsync-bench",
            dependencies: ["MTSyncCore", "MTSyncBridge", "MTSyncStore", "MTSyncEngine", "MTSyncConfiguration", "MTBridgeSimulator"]
        ),
        // The relay's throughput (issue 6): the real OutboxRelay from a filled outbox to a loopback HTTP sink and to
        // moto SQS, with peak RSS; scripts/bench-relay runs it.
        .executableTarget(
            name: "mtsync-relay-bench",
            dependencies: [
                "MTSyncCore", "MTSyncStore", "MTSyncEngine", "MTSyncIngest", "MTSyncIngestTransport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Fuzzing (issue 12): the properties of the parsers that meet untrusted bytes (bridge lines, CSV drops, the
        // configuration file), a seeded mutation engine and the seed corpus. mtsync-fuzz runs the seeded loop; built by
        // scripts/fuzz with -sanitize=fuzzer and -DMTSYNC_LIBFUZZER (in .build-fuzz* only) it is a libFuzzer binary.
        .target(name: "MTSyncFuzzing", dependencies: ["MTSyncBridge", "MTSyncCore", "MTSyncConfiguration"]),
        .executableTarget(name: "mtsync-fuzz", dependencies: ["MTSyncFuzzing"]),
        // Build tool: compiles migrations/*.sql into the binary so a release is one file.
        .executableTarget(name: "MigrationEmbedder"),
        .plugin(
            name: "EmbedMigrations",
            capability: .buildTool(),
            dependencies: ["MigrationEmbedder"]
        ),
        // Shared by the test targets: throwaway databases on the test cluster, a seeded random generator.
        .target(
            name: "MTSyncTestSupport",
            dependencies: [
                "MTSyncStore", "MTBridgeSimulator", "MTSyncIngest", "MTSyncIngestTransport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/MTSyncTestSupport"
        ),
        .testTarget(name: "MTSyncCoreTests", dependencies: ["MTSyncCore", "MTSyncTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "MTSyncBridgeTests", dependencies: ["MTSyncBridge", "MTSyncCore", "MTSyncTestSupport"]),
        .testTarget(
            name: "MTSyncBridgeTransportTests",
            dependencies: [
                "MTSyncBridgeTransport", "MTBridgeSimulator", "MTSyncBridge", "MTSyncCore", "MTSyncTestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "MTSyncStoreTests", dependencies: ["MTSyncStore", "MTSyncCore", "MTSyncTestSupport"]),
        .testTarget(name: "MTSyncEngineTests", dependencies: ["MTSyncEngine", "MTBridgeSimulator", "MTSyncBridge", "MTSyncBridgeTransport", "MTSyncStore", "MTSyncCore", "MTSyncTestSupport", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "MTSyncIngestTests", dependencies: ["MTSyncIngest", "MTSyncCore"], exclude: ["Fixtures"]),
        .testTarget(
            name: "MTSyncIngestTransportTests",
            dependencies: [
                "MTSyncIngestTransport", "MTSyncIngest", "MTSyncCore", "MTSyncTestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(name: "MTSyncConfigurationTests", dependencies: ["MTSyncConfiguration", "MTSyncCore"]),
        .testTarget(name: "MTSyncFuzzingTests", dependencies: ["MTSyncFuzzing", "MTSyncConfiguration"], exclude: ["Regressions"]),
        .testTarget(
            name: "MTSyncOperationsTests",
            dependencies: [
                "MTSyncOperations", "MTSyncEngine", "MTSyncStore", "MTSyncTestSupport",
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(
            name: "MTSyncCLITests",
            dependencies: [
                "MTSyncStore", "MTSyncTestSupport", "MTSyncIngest", "MTSyncIngestTransport", "MTSyncCore", "MTBridgeSimulator",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
