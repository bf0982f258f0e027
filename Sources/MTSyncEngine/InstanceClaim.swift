import Foundation
import Logging
import MTSyncStore
import ServiceLifecycle

/// The daemon's claim on its instance id (issue 20, finding 6): one `mtsync run` per `instance.id` at a time.
///
/// `take` runs before the daemon starts: it marks the process alive (`LeaseHolder.markAlive`) and takes the
/// instance lock (`InstanceLock`) on a connection of its own. A second daemon with the same id refuses to start,
/// naming the process that runs the instance (host, pid, start), or with `wait` waits until that one ends. A
/// daemon restarted after `kill -9` takes the lock at once (PostgreSQL released it with the dead session) and, as
/// the dead process's token lock went with it, takes back the dead process's leases at their next poll rather
/// than after `lease_ttl`.
///
/// As a `Service` it then watches the claim's session every `checkEvery`: when the connection was lost (the
/// database restarted, the network dropped) the locks went with the session, and it marks the process alive and
/// takes the instance lock again on the new one. If another process took the instance in between, this one stops
/// (the error ends the service group) rather than run beside it. List it first among the services, so that a
/// graceful shutdown ends it last and the process stays visibly alive while its leases are released.
public struct InstanceClaim: Service {
    public let holder: LeaseHolder
    /// The claim's own session: never used for anything else, so nothing queues behind it or in front of it.
    public let connection: PostgresConnection
    public let startedAt: Date
    public let checkEvery: Duration
    let logger: Logger

    /// Takes the instance for this process.
    ///
    /// - Parameter wait: false: throws `StoreRefusal.instanceInUse` when another live process runs the
    ///   instance; true: logs who runs it and tries again every `checkEvery` until it ends (cancellation ends the
    ///   wait).
    public static func take(
        holder: LeaseHolder, connection: PostgresConnection, wait: Bool, checkEvery: Duration = .seconds(5), logger: Logger
    ) async throws -> InstanceClaim {
        let startedAt = Date()
        try await holder.markAlive(on: connection)
        var announced = false
        while true {
            switch try await InstanceLock.take(holder, startedAt: startedAt, on: connection) {
            case .taken:
                if announced { logger.notice("the instance is free: this process runs it now", metadata: ["instance": "\(holder.instanceID)"]) }
                return InstanceClaim(holder: holder, connection: connection, startedAt: startedAt, checkEvery: checkEvery, logger: logger)
            case .running(let running):
                let refusal = inUse(holder, by: running)
                guard wait else { throw refusal }
                if !announced {
                    logger.warning("waiting for the instance id to be free", metadata: ["reason": "\(refusal.message)"])
                    announced = true
                }
                try await Task.sleep(for: checkEvery)
            }
        }
    }

    static func inUse(_ holder: LeaseHolder, by running: InstanceLock.Running?) -> StoreRefusal {
        let who = running.map { "process \($0.pid) on host \($0.host), running since \($0.startedAt.formatted(.iso8601))" } ?? "another process"
        return StoreRefusal(code: .instanceInUse, serverID: nil, message: """
            \(who) already runs instance \(String(reflecting: holder.instanceID)) against this database; \
            two daemons with one instance.id would take each other's servers. Stop that one first, give this one its own \
            instance.id (or leave instance.id out: hostname:pid), or start it with --wait to take over when that one ends
            """)
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown { try await watch() }
    }

    func watch() async throws {
        while true {
            do {
                try await Task.sleep(for: checkEvery)
            } catch {
                return
            }
            do {
                if try await InstanceLock.isHeld(by: holder, on: connection) { continue }
                // A new session (the old one was lost, and the locks with it): take them again.
                try await holder.markAlive(on: connection)
                switch try await InstanceLock.take(holder, startedAt: startedAt, on: connection) {
                case .taken:
                    logger.notice("instance lock taken again on a new database session", metadata: ["instance": "\(holder.instanceID)"])
                case .running(let running):
                    var refusal = Self.inUse(holder, by: running)
                    refusal = StoreRefusal(code: .instanceInUse, serverID: nil, message: "while this process was cut off from the database, \(refusal.message)")
                    logger.critical("another process took this instance over; stopping", metadata: ["reason": "\(refusal.message)"])
                    throw refusal
                }
            } catch let error as StoreRefusal {
                throw error
            } catch is CancellationError {
                return
            } catch {
                // The database is away: the leases' renewals fail too and the daemon waits; look again later.
                logger.warning("cannot check the instance lock; trying again", metadata: ["error": "\(error)"])
            }
        }
    }
}
