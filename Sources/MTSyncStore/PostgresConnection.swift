import CLibPQ
import Foundation

/// One connection to PostgreSQL through libpq.
///
/// **Threading.** libpq calls block. This actor's executor is a `DedicatedThreadExecutor`: all isolated code,
/// hence every libpq call on this connection, runs on the connection's own thread, never on Swift's
/// cooperative pool. Callers just `await` its methods.
///
/// **Reconnection.** When the server goes away (restart, failover, network), the failing call throws
/// `PostgresError` with code `.connectionLost`; the next call opens a fresh connection. A statement is never
/// re-sent on its own, because only the caller knows whether it is safe to repeat (a COMMIT whose answer was
/// lost may or may not have happened — mtsync's writes are idempotent so that retrying is always safe).
///
/// **Transactions** take a synchronous closure that runs isolated to the connection: nothing else can use the
/// connection between BEGIN and COMMIT, and no `await` can stretch a transaction while holding locks.
public actor PostgresConnection {
    public nonisolated let configuration: PostgresConfiguration
    private let executor: DedicatedThreadExecutor
    private var handle: OpaquePointer?
    private var inTransaction = false
    private let secrets: [String]

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Creates the connection without opening it; it opens on first use. Prefer `connect(_:)`, which reports
    /// a wrong URL or an unreachable server straight away.
    public init(configuration: PostgresConfiguration) {
        self.configuration = configuration
        self.secrets = configuration.secrets
        self.executor = DedicatedThreadExecutor(name: "mtsync-postgres")
    }

    /// Opens a connection, or throws `.connectionFailed` saying why (without the password).
    public static func connect(_ configuration: PostgresConfiguration) async throws(PostgresError) -> PostgresConnection {
        let connection = PostgresConnection(configuration: configuration)
        try await connection.open()
        return connection
    }

    isolated deinit {
        if let handle { PQfinish(handle) }
        executor.shutdown()
    }

    /// Opens the connection unless it is open and healthy.
    public func open() throws(PostgresError) {
        try openIfNeeded()
    }

    /// Closes the connection now. A later call opens a new one.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
        inTransaction = false
    }

    /// The server's process id for this session (`pg_backend_pid()`), 0 when not connected.
    public var backendPID: Int32 { handle.map(PQbackendPID) ?? 0 }

    /// How this session reaches the server, nil when not connected: what `mtsync status` shows and what the daemon
    /// warns about (docs/security.md, G2: libpq's default `sslmode=prefer` falls back to plain TCP silently).
    public var transport: PostgresTransport? {
        guard let handle, PQstatus(handle) == CONNECTION_OK else { return nil }
        let host = PQhost(handle).map { String(cString: $0) } ?? ""
        if host.isEmpty || host.hasPrefix("/") || host.hasPrefix("@") { return .localSocket }
        if PQsslInUse(handle) == 1 {
            let version = PQsslAttribute(handle, "protocol").map { String(cString: $0) }
            return .tls(host: host, protocolVersion: version)
        }
        return .plainTCP(host: host)
    }

    // MARK: - Statements

    /// Runs one parameterized statement (`PQexecParams`) and returns its rows.
    /// - Parameter name: how errors name this statement, e.g. `"claim outbox batch"`.
    @discardableResult
    public func query(_ query: PostgresQuery, name: String? = nil) throws(PostgresError) -> PostgresRows {
        let handle = try openIfNeeded()
        let result = withParameterPointers(query.parameters) { values in
            PQexecParams(handle, query.sql, Int32(query.parameters.count), nil, values, nil, nil, 0)
        }
        return try check(result, statement: name)
    }

    /// Runs a script of one or more statements with the simple query protocol (no parameters). For migrations
    /// and fixed DDL only; anything carrying values goes through `query`.
    @discardableResult
    public func execute(script: String, name: String? = nil) throws(PostgresError) -> PostgresRows {
        let handle = try openIfNeeded()
        return try check(PQexec(handle, script), statement: name)
    }

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws (its error is rethrown).
    ///
    /// If the connection drops during COMMIT, the outcome is unknown and `.connectionLost` is thrown; callers
    /// recover by repeating their idempotent work.
    @discardableResult
    public func transaction<Result: Sendable>(
        name: String? = nil,
        _ body: @Sendable (isolated PostgresConnection) throws -> Result
    ) throws -> Result {
        guard !inTransaction else {
            throw PostgresError(code: .unexpectedResult, message: "a transaction is already open on this connection; nested transactions are not supported", statement: name)
        }
        try query("BEGIN", name: name.map { "\($0) (BEGIN)" } ?? "BEGIN")
        inTransaction = true
        let value: Result
        do {
            value = try body(self)
        } catch {
            rollbackAfterFailure()
            throw error
        }
        do {
            try query("COMMIT", name: name.map { "\($0) (COMMIT)" } ?? "COMMIT")
            inTransaction = false
        } catch {
            rollbackAfterFailure()
            throw error
        }
        return value
    }

    private func rollbackAfterFailure() {
        defer { inTransaction = false }
        guard let handle, PQstatus(handle) == CONNECTION_OK else { return }
        // A failed ROLLBACK leaves nothing to undo: the server ends the transaction when the session ends.
        if let result = PQexec(handle, "ROLLBACK") { PQclear(result) }
    }

    /// Runs `body` isolated to the connection: several statements in a row with no other caller in between
    /// and no hop back to the caller's executor. Session state (advisory locks, SET) stays with the body.
    @discardableResult
    public func run<Result: Sendable>(_ body: @Sendable (isolated PostgresConnection) throws -> Result) throws -> Result {
        try body(self)
    }

    // MARK: - Notifications

    /// Waits up to `timeout` for a `NOTIFY` on `channel` (this session LISTENs to it from the first call on, again
    /// after a reconnect): true when one came — also one that arrived while other statements ran since the last
    /// call — false when the time ran out. The connection's thread blocks meanwhile: call it only on a connection
    /// of its own (the relay's), with a short timeout.
    public func waitForNotification(on channel: String, timeout: Duration) throws(PostgresError) -> Bool {
        let handle = try openIfNeeded()
        try execute(script: "LISTEN \"" + channel.replacingOccurrences(of: "\"", with: "\"\"") + "\"", name: "listen for \(channel)")
        if Self.takeNotifications(handle) { return true }
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        guard descriptor.fd >= 0 else { throw PostgresError(code: .connectionLost, message: "the connection has no socket", statement: "wait for \(channel)") }
        let milliseconds = Int32(clamping: max(0, timeout.components.seconds * 1_000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        guard poll(&descriptor, 1, milliseconds) > 0 else { return false }
        guard PQconsumeInput(handle) == 1 else {
            throw (connectionFailure(handle, statement: "wait for \(channel)")
                ?? PostgresError(code: .statementFailed, message: Self.errorMessage(of: handle), statement: "wait for \(channel)")).scrubbed(of: secrets)
        }
        return Self.takeNotifications(handle)
    }

    /// Takes the notifications libpq has received; whether there were any.
    private static func takeNotifications(_ handle: OpaquePointer) -> Bool {
        var any = false
        while let notification = PQnotifies(handle) {
            any = true
            PQfreemem(notification)
        }
        return any
    }

    // MARK: - COPY

    /// Runs `COPY … FROM STDIN` (text format) and streams the rows `produce` writes, flushing as it goes.
    /// If `produce` throws, the COPY is aborted (nothing is stored) and the error is rethrown.
    /// - Returns: the number of rows the server stored.
    @discardableResult
    public func copyIn(_ copyStatement: String, name: String? = nil, _ produce: (inout CopyInWriter) throws -> Void) throws -> Int {
        let handle = try openIfNeeded()
        let start = PQexec(handle, copyStatement)
        guard let start, PQresultStatus(start) == PGRES_COPY_IN else {
            _ = try check(start, statement: name)
            throw PostgresError(code: .copyFailed, message: "the statement did not start a COPY FROM STDIN", statement: name)
        }
        PQclear(start)

        let secrets = self.secrets
        var writer = CopyInWriter { (bytes: [UInt8]) throws(PostgresError) in
            let sent = bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(handle, $0.baseAddress, Int32($0.count)) }
            }
            if sent != 1 {
                throw PostgresError(code: .copyFailed, message: Self.errorMessage(of: handle), statement: name).scrubbed(of: secrets)
            }
        }
        do {
            try produce(&writer)
            try writer.flush()
        } catch {
            PQputCopyEnd(handle, "COPY aborted by mtsync: the data source failed")
            drainResults(handle)
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else {
            let failure = connectionFailure(handle, statement: name) ?? PostgresError(code: .copyFailed, message: Self.errorMessage(of: handle), statement: name)
            drainResults(handle)
            throw failure.scrubbed(of: secrets)
        }
        let rows = try check(PQgetResult(handle), statement: name)
        drainResults(handle)
        return rows.affectedRows
    }

    private func drainResults(_ handle: OpaquePointer) {
        while let result = PQgetResult(handle) { PQclear(result) }
    }

    // MARK: - Connection management

    @discardableResult
    private func openIfNeeded() throws(PostgresError) -> OpaquePointer {
        if let handle {
            if PQstatus(handle) == CONNECTION_OK { return handle }
            PQfinish(handle)
            self.handle = nil
            inTransaction = false
        }
        // A string libpq cannot parse (an unknown keyword or URL query parameter, broken syntax) is a setting to
        // fix, not a server to wait for: say so before trying to connect.
        if let problem = configuration.parseError {
            throw PostgresError(code: .invalidConnectionOption, message: "libpq cannot use the connection string: \(problem)").scrubbed(of: secrets)
        }
        // Keywords apply in order and a later one wins, with `dbname` expanded into the whole connection string
        // (expand_dbname = 1). So our defaults go before it (the user's string may override them) and forced
        // settings and test overrides after it.
        var parameters: [(String, String)] = [("fallback_application_name", configuration.applicationName)]
        if getenv("PGCONNECT_TIMEOUT") == nil { parameters.append(("connect_timeout", "10")) }
        parameters.append(("dbname", configuration.connectionString))
        parameters += configuration.overrides.map { ($0.keyword, $0.value) }
        // mtsync reads and writes text as UTF-8 whatever the server's default.
        parameters.append(("client_encoding", "UTF8"))

        let connection = withParameterPointers(parameters.map(\.0)) { keywords in
            withParameterPointers(parameters.map(\.1)) { values in
                PQconnectdbParams(keywords, values, 1)
            }
        }
        guard let connection else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.errorMessage(of: connection)
            PQfinish(connection)
            let code: PostgresError.Code = PostgresConfiguration.refusedOption(in: message) == nil ? .connectionFailed : .invalidConnectionOption
            throw PostgresError(code: code, message: "\(message) (connecting to \(configuration))").scrubbed(of: secrets)
        }
        // NOTICEs (e.g. "relation already exists, skipping") would go to stderr by default; they carry nothing
        // an operator needs, so they are dropped here rather than interleaved with mtsync's own output.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        handle = connection
        // Session settings every query may rely on: timestamps rendered in UTC, ISO style.
        try query("SET TimeZone = 'UTC'", name: "session setup")
        return connection
    }

    /// Turns a libpq result into rows or a typed error, and notices a dropped connection.
    private func check(_ result: OpaquePointer?, statement: String?) throws(PostgresError) -> PostgresRows {
        guard let handle else {
            if let result { PQclear(result) }
            throw PostgresError(code: .connectionLost, message: "not connected", statement: statement)
        }
        guard let result else {
            throw (connectionFailure(handle, statement: statement)
                ?? PostgresError(code: .statementFailed, message: Self.errorMessage(of: handle), statement: statement)).scrubbed(of: secrets)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return PostgresRows(takingOwnershipOf: result, statement: statement)
        default:
            defer { PQclear(result) }
            if let lost = connectionFailure(handle, statement: statement) { throw lost.scrubbed(of: secrets) }
            func field(_ code: UInt8) -> String? {
                PQresultErrorField(result, Int32(code)).map { String(cString: $0) }
            }
            let primary = field(UInt8(ascii: "M")) ?? String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            throw PostgresError(
                code: .statementFailed,
                message: primary,
                sqlState: field(UInt8(ascii: "C")),
                detail: field(UInt8(ascii: "D")),
                hint: field(UInt8(ascii: "H")),
                constraint: field(UInt8(ascii: "n")),
                statement: statement
            ).scrubbed(of: secrets)
        }
    }

    /// When the connection itself is gone, forgets it (the next call reconnects) and says so.
    private func connectionFailure(_ handle: OpaquePointer, statement: String?) -> PostgresError? {
        guard PQstatus(handle) != CONNECTION_OK else { return nil }
        let message = Self.errorMessage(of: handle)
        PQfinish(handle)
        self.handle = nil
        inTransaction = false
        return PostgresError(code: .connectionLost, message: message.isEmpty ? "the server closed the connection" : message, statement: statement)
    }

    private static func errorMessage(of handle: OpaquePointer) -> String {
        String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Calls `body` with a C array of C strings for `strings` (nil entries stay NULL), valid only during the call.
private func withParameterPointers<Result>(
    _ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> Result
) -> Result {
    let duplicates: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0)! } }
    defer { duplicates.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = duplicates.map { $0.map { UnsafePointer($0) } } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}

private func withParameterPointers<Result>(
    _ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> Result
) -> Result {
    withParameterPointers(strings.map(Optional.some), body)
}
