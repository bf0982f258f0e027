import Foundation
import MTSyncStore

/// Why an integration test could not find its real components. Thrown (never skipped), so a run without
/// PostgreSQL fails and says how to run it properly.
public struct MissingTestComponent: Error, CustomStringConvertible {
    public let variable: String
    public var description: String {
        "\(variable) is not set: run the tests with scripts/test, which installs and starts a throwaway PostgreSQL "
            + "cluster and exports it (or set \(variable) to a superuser URL of a disposable server)"
    }
}

public enum TestEnvironment {
    public static func require(_ variable: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
            throw MissingTestComponent(variable: variable)
        }
        return value
    }

    /// Superuser URL of the shared throwaway cluster.
    public static func adminURL() throws -> String { try require("MTSYNC_TEST_DATABASE_URL") }
}

/// A fresh, empty database on the shared test cluster, one per test, so tests run in parallel without
/// seeing each other's rows. The whole cluster is thrown away after the run.
public struct TestDatabase: Sendable {
    public let name: String
    public let adminURL: String

    public var configuration: PostgresConfiguration {
        PostgresConfiguration(connectionString: adminURL, overrides: [("dbname", name)])
    }

    /// The database's own URL, for the CLI (`--database-url`).
    public var url: String {
        guard let slash = adminURL.lastIndex(of: "/") else { return adminURL }
        return adminURL[..<slash] + "/" + name
    }

    public static func create(clusterURL: String? = nil) async throws -> TestDatabase {
        let adminURL = try clusterURL ?? TestEnvironment.adminURL()
        let name = "mtsync_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        let admin = try await PostgresConnection.connect(PostgresConfiguration(connectionString: adminURL))
        try await admin.execute(script: "CREATE DATABASE \(name)", name: "create test database")
        await admin.close()
        return TestDatabase(name: name, adminURL: adminURL)
    }

    public func connect() async throws -> PostgresConnection {
        try await PostgresConnection.connect(configuration)
    }

    /// A connection to a database with the full embedded schema applied.
    public static func migrated() async throws -> (TestDatabase, PostgresConnection) {
        let database = try await create()
        let connection = try await database.connect()
        try await Migrator.embedded().migrate(on: connection)
        return (database, connection)
    }
}
