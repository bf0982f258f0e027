import Foundation
import PackagePlugin

/// Compiles `migrations/*.sql` into the store module, so that a release of mtsync is one binary that carries
/// its own schema (no resource bundle to lose next to it). The SQL files stay the single source of truth: an
/// edited file is an input of the command and is picked up by the next build. A new file is not, in an incremental
/// build: SwiftPM keeps the plugin's last evaluation until the package changes — `touch Package.swift` after adding
/// one (a fresh build, as CI's, always sees every file).
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let folder = context.package.directoryURL.appending(path: "migrations")
        let sqlFiles = try FileManager.default
            .contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrationFiles.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(sqlFiles.count) migrations from migrations/",
                executable: try context.tool(named: "MigrationEmbedder").url,
                arguments: [output.path] + sqlFiles.map(\.path),
                inputFiles: sqlFiles,
                outputFiles: [output]
            ),
        ]
    }
}
