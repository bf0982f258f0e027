import Foundation

/// The rules every configured ingest URL follows (the HTTP data-ingest's, the file ingest's), and how one is shown:
/// an absolute http(s) URL with a host and no credentials, shown without user info, query or fragment (a query may
/// carry an API key).
enum IngestURL {
    /// The first rule `url` breaks, said for `what` ("the HTTP ingest URL") with `example` and `credentialsAdvice`.
    static func validate(_ url: String, what: String, example: String, credentialsAdvice: String) throws(HTTPIngestError) {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = parsed.host, !host.isEmpty
        else {
            throw HTTPIngestError(code: .invalidURL, message: "\(what) \(redacted(url)) is not an absolute http:// or https:// URL with a host: configure the full endpoint, e.g. \(example)")
        }
        // Credentials in the URL would be printed wherever the URL is; they are configured on their own.
        guard parsed.user == nil, parsed.password == nil else {
            throw HTTPIngestError(code: .invalidURL, message: "\(what) \(redacted(url)) carries a user name or password: remove it; \(credentialsAdvice)")
        }
    }

    /// `url` without user info, query or fragment: what logs and errors show.
    static func redacted(_ url: String) -> String {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, let host = parsed.host else {
            return "(unparseable URL of \(url.utf8.count) bytes)"
        }
        let port = parsed.port.map { ":\($0)" } ?? ""
        return "\(scheme)://\(host)\(port)\(parsed.path)"
    }
}
