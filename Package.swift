// swift-tools-version: 6.1
// mtsync — MetaTrader sync bridge daemon.
//
// Modules are layered one way, arrows only downward (../shared/design.md "The house", docs/architecture.md):
//   MTSyncCore (the domain, pure) ← MTSyncBridge | MTSyncStore (over CLibPQ) | MTSyncIngest
//     ← MTSyncEngine (the jobs) ← MTSyncApp (configuration, operations) ← mtsync (commands only)
// MTBridgeSimulator (the reference bridge) and MTSyncFuzzing sit beside the app, on the bridge.
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
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
    ],
    targets: [
        // libpq, the PostgreSQL client library: connection strings, PG* variables, sslmode, COPY.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        // glibc's mallopt, for the process's allocator settings (MTSyncApp's ProcessMemory).
        .systemLibrary(name: "CGlibcMalloc"),
        // The domain core: no I/O, no clock, no globals. Crypto only for SHA-256 content hashes.
        .target(name: "MTSyncCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // PostgreSQL through libpq: connections on their own threads, typed errors, COPY, migrations, and the tables
        // of every job (facts, outbox, leases, accounts, the daily feed, status).
        .target(
            name: "MTSyncStore",
            dependencies: [
                "CLibPQ",
                "MTSyncCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            plugins: ["EmbedMigrations"]
        ),
        // The bridge: the protocol sans I/O (Protocol/: strict JSON, records, messages, the client session state
        // machine), the CSV drop folder (DropFolder/), and the protocol over TCP and TLS (Transport/: SwiftNIO).
        .target(
            name: "MTSyncBridge",
            dependencies: [
                "MTSyncCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The ingest: the platform's contract, pure (Contract/: envelopes, packing, SigV4, SQS requests, the daily
        // feed's and tier snapshots' rows) and its clients over HTTP (Transport/: AsyncHTTPClient — SQS, the HTTP
        // data-ingest, the file ingest).
        .target(
            name: "MTSyncIngest",
            dependencies: [
                "MTSyncCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The jobs that join bridge, store and ingest: sync, backfill, reconcile, drop intake, the relay, accounts,
        // the daily feed, tier snapshots; their metrics.
        .target(
            name: "MTSyncEngine",
            dependencies: [
                "MTSyncBridge", "MTSyncStore", "MTSyncCore", "MTSyncIngest",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The application: the configuration file (Configuration/: YAML into validated values, every problem with its
        // location), running it in production (Operations/: Prometheus exposition, /metrics /healthz /readyz, logfmt
        // and JSON log lines with secret redaction), and the wiring the daemon and the one-shot commands share
        // (Bootstrap/: SyncBootstrap, the daemon's assembly, the ingest's and the feed's clients).
        .target(
            name: "MTSyncApp",
            dependencies: [
                "MTSyncEngine", "MTSyncBridge", "MTSyncStore", "MTSyncIngest", "MTSyncCore", "CGlibcMalloc",
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The reference bridge: deterministic MT5/MT4 datasets and the server side of the protocol.
        .target(
            name: "MTBridgeSimulator",
            dependencies: [
                "MTSyncBridge", "MTSyncCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The `mtsync` command line.
        .executableTarget(
            name: "mtsync",
            dependencies: [
                "MTSyncCore",
                "MTSyncBridge",
                "MTSyncStore",
                "MTSyncEngine",
                "MTSyncIngest",
                "MTSyncApp",
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
        // scripts/bench times with psql (the store's own staging rows and merge SQL); `relay` drives the real
        // OutboxRelay from a filled outbox to a loopback HTTP sink and to moto SQS (scripts/bench-relay).
        .executableTarget(
            name: "mtsync-bench",
            dependencies: [
                "MTSyncCore", "MTSyncBridge", "MTSyncStore", "MTSyncEngine", "MTSyncApp", "MTBridgeSimulator", "MTSyncIngest",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Fuzzing (issue 12): the properties of the parsers that meet untrusted bytes (bridge lines, CSV drops, the
        // configuration file), a seeded mutation engine and the seed corpus. mtsync-fuzz runs the seeded loop; built by
        // scripts/fuzz with -sanitize=fuzzer and -DMTSYNC_LIBFUZZER (in .build-fuzz* only) it is a libFuzzer binary.
        // Kept apart from mtsync-bench: the sanitizer build compiles only what the fuzzer reaches.
        .target(name: "MTSyncFuzzing", dependencies: ["MTSyncBridge", "MTSyncCore", "MTSyncApp"]),
        .executableTarget(name: "mtsync-fuzz", dependencies: ["MTSyncFuzzing", "MTSyncCore"]),
        // Build tool: compiles migrations/*.sql into the binary so a release is one file.
        .executableTarget(name: "MigrationEmbedder"),
        .plugin(
            name: "EmbedMigrations",
            capability: .buildTool(),
            dependencies: ["MigrationEmbedder"]
        ),
        // Shared by the test targets: throwaway databases on the test cluster, local SQS and HTTP ingests, a seeded
        // random generator.
        .target(
            name: "MTSyncTestSupport",
            dependencies: [
                "MTSyncStore", "MTBridgeSimulator", "MTSyncIngest",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/MTSyncTestSupport"
        ),
        // The test targets mirror the library modules; MTSyncCLITests runs the built binaries.
        .testTarget(name: "MTSyncCoreTests", dependencies: ["MTSyncCore", "MTSyncTestSupport"], exclude: ["Fixtures"]),
        .testTarget(
            name: "MTSyncBridgeTests",
            dependencies: [
                "MTSyncBridge", "MTBridgeSimulator", "MTSyncCore", "MTSyncTestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "MTSyncStoreTests", dependencies: ["MTSyncStore", "MTSyncCore", "MTSyncTestSupport"]),
        .testTarget(
            name: "MTSyncIngestTests",
            dependencies: [
                "MTSyncIngest", "MTSyncCore", "MTSyncTestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "MTSyncEngineTests", dependencies: ["MTSyncEngine", "MTBridgeSimulator", "MTSyncBridge", "MTSyncStore", "MTSyncCore", "MTSyncTestSupport", .product(name: "Crypto", package: "swift-crypto"), .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(
            name: "MTSyncAppTests",
            dependencies: [
                "MTSyncApp", "MTSyncEngine", "MTSyncStore", "MTSyncCore", "MTSyncTestSupport",
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(name: "MTSyncFuzzingTests", dependencies: ["MTSyncFuzzing", "MTSyncApp"], exclude: ["Regressions"]),
        .testTarget(
            name: "MTSyncCLITests",
            dependencies: [
                "MTSyncStore", "MTSyncTestSupport", "MTSyncIngest", "MTSyncCore", "MTBridgeSimulator",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
