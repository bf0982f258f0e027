import Logging
import Synchronization

/// mtsync's logging, set up once in `main` and configured by the command once it has read its configuration:
/// every logger of the process writes through `LogLineHandler`, so library logs (the HTTP server, the service
/// group) get the same line format and the same secret redaction as mtsync's own.
public enum LoggingSetup {
    struct Settings: Sendable {
        var format: LogFormat
        var levels: LogLevels
        var redactor: SecretRedactor
    }

    static let settings = Mutex(Settings(format: .logfmt, levels: LogLevels(), redactor: SecretRedactor(secrets: [])))
    static let bootstrapped = Mutex(false)

    /// Installs the handler (swift-log allows it once per process; later calls do nothing). `secrets`: what is
    /// known before any configuration is read (the environment's AWS and PostgreSQL passwords).
    public static func bootstrap(secrets: [String], output: LogOutput = .standardError) {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        settings.withLock { $0.redactor = SecretRedactor(secrets: secrets) }
        LoggingSystem.bootstrap { label in
            let current = settings.withLock { $0 }
            return RedactingHandler(base: LogLineHandler(label: label, format: current.format, levels: current.levels, redactor: current.redactor, output: output))
        }
    }

    /// The configuration's format, levels and secrets, for every logger created from now on; the secrets count
    /// for every logger at once.
    public static func configure(format: LogFormat, levels: LogLevels, secrets: [String]) {
        settings.withLock { settings in
            settings.format = format
            settings.levels = levels
            settings.redactor = SecretRedactor(secrets: settings.redactor.secrets + secrets)
        }
    }

    /// More secrets to redact, for every logger at once (a `--database-url` given on the command line).
    public static func addSecrets(_ secrets: [String]) {
        settings.withLock { settings in settings.redactor = SecretRedactor(secrets: settings.redactor.secrets + secrets) }
    }

    static var currentRedactor: SecretRedactor { settings.withLock { $0.redactor } }

    /// `LogLineHandler` with the redactor of the moment: secrets learnt after a logger was made still count.
    struct RedactingHandler: LogHandler {
        var base: LogLineHandler

        var metadata: Logger.Metadata {
            get { base.metadata }
            set { base.metadata = newValue }
        }

        var logLevel: Logger.Level {
            get { base.logLevel }
            set { base.logLevel = newValue }
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { base[metadataKey: key] }
            set { base[metadataKey: key] = newValue }
        }

        func log(event: LogEvent) {
            var handler = base
            handler.redactor = LoggingSetup.currentRedactor
            handler.log(event: event)
        }
    }
}
