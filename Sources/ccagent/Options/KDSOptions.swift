// SPDX-License-Identifier: Apache-2.0
// `--kds-url`, `--kds-ca`, `--kds-cache`, `--kds-offline`, `--kds-timeout`, `--no-kds`: where `verify snp`
// gets a VCEK the evidence and --cert lack (the same flags as ccbroker's).

import AMDKDS
import AgentBase
import ArgumentParser
import Cryptography
import EvidenceVerification
import FoundationEssentials
import TEEEvidence

#if canImport(Glibc)
import Glibc
#endif

/// AMD KDS for a VCEK that neither the report's certificate table nor --cert provides.
struct KDSOptions: ParsableArguments {
    @Option(
        name: .customLong("kds-url"),
        help: "AMD KDS base URL for a VCEK the evidence lacks (default: \(KDSConfiguration.defaultURL)).")
    var url: String = KDSConfiguration.defaultURL

    @Option(
        name: .customLong("kds-ca"), help: "PEM CA file for the TLS certificate of --kds-url (default: system CAs).")
    var ca: String?

    @Option(
        name: .customLong("kds-cache"),
        help: "Directory caching fetched certificates (default: $XDG_CACHE_HOME/ccagent/kds or ~/.cache/ccagent/kds).")
    var cache: String?

    @Flag(name: .customLong("kds-offline"), help: "Use only certificates already in --kds-cache; never fetch.")
    var offline = false

    @Option(name: .customLong("kds-timeout"), help: "Seconds for one KDS request, connection included.")
    var timeout: Double = 10

    @Flag(name: .customLong("no-kds"), help: "Never fetch from AMD KDS or read its cache.")
    var disabled = false

    func validate() throws {
        guard url.hasPrefix("https://") else {
            throw ValidationError("--kds-url must be an https:// URL, got '\(url)'")
        }
        guard timeout > 0 && timeout <= 300 else { throw ValidationError("--kds-timeout must be in (0, 300] seconds") }
        if disabled && (offline || ca != nil || cache != nil) {
            throw ValidationError("--no-kds turns KDS off; it does not go with --kds-offline, --kds-ca or --kds-cache")
        }
    }

    /// `$XDG_CACHE_HOME/ccagent/kds`, else `$HOME/.cache/ccagent/kds`; nil when neither is set.
    static var defaultCacheDirectory: String? {
        if let xdg = getenv("XDG_CACHE_HOME").map({ String(cString: $0) }), xdg.hasPrefix("/") {
            return xdg + "/ccagent/kds"
        }
        if let home = getenv("HOME").map({ String(cString: $0) }), home.hasPrefix("/") {
            return home + "/.cache/ccagent/kds"
        }
        return nil
    }

    /// The client, or nil with --no-kds.
    func client() throws -> KDSClient? {
        guard !disabled else { return nil }
        return try KDSClient(
            configuration: KDSConfiguration(
                baseURL: url, trust: ca.map { .caFile($0) } ?? .systemCAs,
                cacheDirectory: cache ?? KDSOptions.defaultCacheDirectory, offline: offline,
                connectTimeoutSeconds: min(5, timeout), totalTimeoutSeconds: timeout,
                cacheWarning: { printError("ccagent: warning: \($0)") }))
    }

    /// Runs `verify`; when the only failure is a missing VCEK, gets the VCEK from the cache or KDS and
    /// runs `verify` again with it. A VCEK that cannot be had is explained on stderr and the first result
    /// (not trusted, naming the missing VCEK) stands.
    func verify(
        report bytes: [UInt8], certificates: [Certificate], trustRoots: [Certificate],
        _ verify: ([Certificate]) throws -> VerificationResult
    ) throws -> VerificationResult {
        let first = try verify([])
        guard first.codes == [.missingSigningCertificate],
            let report = try? SNPReport(parsing: Array(bytes.prefix(SNPReport.size)))
        else { return first }
        guard let kds = try client() else {
            printError(
                "ccagent: the report carries no \(report.signingKey == .vlek ? "VLEK" : "VCEK"); --no-kds is set")
            return first
        }
        do {
            let vcek = try kds.vcek(for: report, extraCertificates: certificates, extraRoots: trustRoots)
            return try verify([vcek])
        } catch let error as KDSError {
            printError("ccagent: the report carries no VCEK and none was given; \(error)")
            return first
        }
    }
}
