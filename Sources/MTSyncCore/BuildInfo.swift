/// What this build of mtsync is. Kept in the core so every layer (CLI, metrics, the ingest envelope's
/// `producer`) reports the same version.
public enum BuildInfo {
    /// Semantic version of mtsync. Bumped by hand at release time.
    public static let version = "0.1.0"

    /// The producer name mtsync stamps on what it sends.
    public static let producer = "mtsync"
}
