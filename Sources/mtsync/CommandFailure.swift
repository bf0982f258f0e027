import ArgumentParser
import Foundation
import MTSyncBridge
import MTSyncApp
import MTSyncEngine
import MTSyncIngest
import MTSyncStore

/// Turns any error into the documented exit code and a message (text on stderr, or JSON on stdout with
/// `--json`), so cron jobs and scripts can act on the class of failure.
enum CommandFailure {
    /// Documented in docs/command-line.md and `mtsync --help`; values follow BSD sysexits where one fits.
    enum Status: Int32 {
        case unexpected = 1
        case dataError = 65              // EX_DATAERR: files and database disagree; rejected input records
        case databaseUnavailable = 69    // EX_UNAVAILABLE
        case statementFailed = 70        // EX_SOFTWARE
        case temporary = 75              // EX_TEMPFAIL
        case configuration = 78          // EX_CONFIG
    }

    static func classify(_ error: any Error) -> (status: Status, kind: String) {
        switch error {
        case let error as MigrationError where error.code == .lockTimeout:
            return (.temporary, "migration_lock_timeout")
        case is MigrationError:
            return (.dataError, "migration_conflict")
        case let error as PostgresError where error.code == .invalidConnectionOption:
            return (.configuration, "database_configuration")
        case let error as PostgresError where error.code == .connectionFailed:
            return (.databaseUnavailable, "database_unavailable")
        case let error as PostgresError where error.isTransient:
            return (.temporary, "database_temporary")
        case is PostgresError:
            return (.statementFailed, "statement_failed")
        case is ConfigurationErrors, is ValidationError, is BootstrapProblem:
            return (.configuration, "configuration")
        case let error as BridgeClientError where error.kind == .configuration:
            // The key, TLS files or the protocol version: a person must change something before a retry can help.
            return (.configuration, "bridge_configuration")
        case is BridgeClientError:
            // Down, stuck, or broken (a protocol violation after its retries): a cron job should try again later.
            return (.temporary, "bridge_unavailable")
        case let error as StoreRefusal where error.code == .instanceInUse:
            return (.temporary, "instance_in_use")
        case is ReconcileAlreadyRunning:
            return (.temporary, "reconcile_already_running")
        case is ReconcileRangeUnknown:
            return (.configuration, "reconcile_range_unknown")
        case let error as DropFileProblem:
            return (.configuration, "drop_folder_\(error.code)")
        case is IngestNotConfigured, is AWSConfigurationError, is HTTPIngestError:
            return (.configuration, "ingest_configuration")
        case let error as SQSError where error.kind == .configuration || error.kind == .sender:
            return (.configuration, "ingest_configuration")
        case is SQSError:
            return (.temporary, "ingest_unavailable")
        default:
            return (.unexpected, "unexpected")
        }
    }

    static func report(_ error: any Error, json: Bool) -> ExitCode {
        let (status, kind) = classify(error)
        let message = String(describing: error)
        if json {
            var details: [String: String] = ["kind": kind, "message": message]
            if let error = error as? PostgresError, let sqlState = error.sqlState { details["sqlstate"] = sqlState }
            JSONOutput.print(["error": details])
        } else {
            FileHandle.standardError.write(Data("mtsync: error: \(message)\n".utf8))
        }
        return ExitCode(status.rawValue)
    }
}

enum JSONOutput {
    static func print(_ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // Encoding our own plain structs cannot fail; if it ever did, say so rather than print nothing.
        let data = (try? encoder.encode(value)) ?? Data(#"{"error":{"kind":"unexpected","message":"could not encode output"}}"#.utf8)
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }
}
