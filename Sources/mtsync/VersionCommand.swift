import ArgumentParser
import MTSyncCore
import MTSyncStore

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print mtsync's version and the newest schema version it carries."
    )

    @OptionGroup var output: OutputOptions

    func run() throws {
        let schemaVersion = (try? Migration.embedded().last?.version) ?? 0
        if output.json {
            JSONOutput.print(["version": BuildInfo.version, "schema_version": String(schemaVersion)])
        } else {
            print("mtsync \(BuildInfo.version) (schema \(schemaVersion))")
        }
    }
}
