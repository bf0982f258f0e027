import Logging
import MTSyncBridge
import MTSyncBridgeTransport
import MTSyncStore
import ServiceLifecycle

/// Keeps a bridge server's `accounts` table in step with the bridge's `accounts` request (bridge-protocol §4.4):
/// every account, page by page, stored with its customer id; changes audited as made by `bridge:<server>`.
public struct AccountSync: Sendable {
    public let serverID: String
    public let client: BridgeClient
    public let connection: PostgresConnection
    public let pageSize: Int

    public init(serverID: String, client: BridgeClient, connection: PostgresConnection, pageSize: Int = 1_000) {
        self.serverID = serverID
        self.client = client
        self.connection = connection
        self.pageSize = pageSize
    }

    public struct Report: Sendable, Hashable, Encodable {
        public var server: String
        public var accounts = 0
        public var changed = 0
        public var withoutCustomerID = 0

        enum CodingKeys: String, CodingKey { case server, accounts, changed, withoutCustomerID = "without_customer_id" }
    }

    public func pull() async throws -> Report {
        var report = Report(server: serverID)
        var after: UInt64?
        let pageSize = pageSize
        while !Task.isCancelled {
            let page = try await client.withRetries { connection in try await connection.accountsPage(after: after, limit: pageSize) }
            let records = page.accounts.map {
                AccountRecord(login: $0.login, group: $0.group, currency: $0.currency, leverage: $0.leverage, clientID: $0.clientID, updatedMilliseconds: $0.updatedMilliseconds)
            }
            report.accounts += records.count
            report.withoutCustomerID += records.filter { ($0.clientID ?? "").isEmpty }.count
            report.changed += try await AccountDirectory.storeFromBridge(server: serverID, accounts: records, changedBy: "bridge:\(serverID)", on: connection)
            guard page.more, let last = records.last?.login, last != after else { break }
            after = last
        }
        return report
    }
}

/// The daemon's account refresh: every `every`, each bridge server's accounts (the first round at start).
public struct AccountSyncService: Service {
    public let syncs: [AccountSync]
    public let every: Duration
    public let logger: Logger

    public init(syncs: [AccountSync], every: Duration, logger: Logger) {
        self.syncs = syncs
        self.every = every
        self.logger = logger
    }

    public func run() async throws {
        await PeriodicRounds.run(every: every) { _ in } _: {
            // Each server on its own: one bridge down does not keep the others' accounts stale.
            for sync in syncs where !Task.isCancelled {
                do {
                    let report = try await sync.pull()
                    logger.info("accounts synced", metadata: [
                        "server": "\(report.server)", "accounts": "\(report.accounts)", "changed": "\(report.changed)",
                        "without_customer_id": "\(report.withoutCustomerID)",
                    ])
                } catch {
                    if Task.isCancelled { break }
                    logger.error("accounts sync failed; retrying next round", metadata: ["server": "\(sync.serverID)", "error": "\(error)", "retry_in": "\(every)"])
                }
            }
        }
    }
}
