// SPDX-License-Identifier: Apache-2.0
// `--kds-url`, `--kds-ca`, `--kds-cache`, `--kds-offline`, `--kds-timeout`, `--no-kds`: where the broker
// gets the VCEK of SNP evidence that carries none (the same flags as `ccagent verify snp`).

import AMDKDS
import AgentBase
import ArgumentParser
import Foundation

/// AMD KDS for SNP evidence sent with `cert_chain: null` (Trustee's usual shape when the host supplies
/// no certificates).
struct KDSOptions: ParsableArguments {
    static let defaultCacheDirectory = "/var/cache/ccbroker/kds"

    @Option(
        name: .customLong("kds-url"),
        help: "AMD KDS base URL for VCEKs missing from SNP evidence (default: \(KDSConfiguration.defaultURL)).")
    var url: String = KDSConfiguration.defaultURL

    @Option(
        name: .customLong("kds-ca"), help: "PEM CA file for the TLS certificate of --kds-url (default: system CAs).")
    var ca: String?

    @Option(name: .customLong("kds-cache"), help: "Directory caching fetched certificates.")
    var cache: String = KDSOptions.defaultCacheDirectory

    @Flag(name: .customLong("kds-offline"), help: "Use only certificates already in --kds-cache; never fetch.")
    var offline = false

    @Option(name: .customLong("kds-timeout"), help: "Seconds for one KDS request, connection included.")
    var timeout: Double = 10

    @Flag(
        name: .customLong("no-kds"), help: "Never fetch from AMD KDS or read its cache (evidence must carry its VCEK).")
    var disabled = false

    @Flag(
        name: .customLong("kds-crl"),
        help: "Also check SNP chains against AMD's CRL of the product from KDS (or the cache); refuse without it.")
    var revocation = false

    func validate() throws {
        guard url.hasPrefix("https://") else {
            throw ValidationError("--kds-url must be an https:// URL, got '\(url)'")
        }
        guard timeout > 0 && timeout <= 300 else { throw ValidationError("--kds-timeout must be in (0, 300] seconds") }
        if disabled && (offline || ca != nil || cache != KDSOptions.defaultCacheDirectory || revocation) {
            throw ValidationError(
                "--no-kds turns KDS off; it does not go with --kds-offline, --kds-ca, --kds-cache or --kds-crl")
        }
    }

    /// The client, or nil with --no-kds.
    func client() throws -> KDSClient? {
        guard !disabled else { return nil }
        return try KDSClient(
            configuration: KDSConfiguration(
                baseURL: url, trust: ca.map { .caFile($0) } ?? .systemCAs, cacheDirectory: cache, offline: offline,
                connectTimeoutSeconds: min(5, timeout), totalTimeoutSeconds: timeout,
                cacheWarning: { message in
                    FileHandle.standardError.write(Data("ccbroker: warning: \(message)\n".utf8))
                },
                // Any client can send evidence naming made-up chips: bound what that makes us ask of AMD.
                gate: KDSFetchGate()))
    }
}
