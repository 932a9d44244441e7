// SPDX-License-Identifier: Apache-2.0
// `--kds-url`, `--kds-ca`, `--kds-cache`, `--kds-offline`, `--kds-timeout`, `--no-kds`: where `verify snp`
// gets a VCEK the evidence and --cert lack (the same flags as ccbroker's).

import AMDKDS
import AgentBase
import CommandLineInterface
import Cryptography
import EvidenceVerification
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

    @Flag(
        name: .customLong("kds-crl"),
        help: "Also check the chain against AMD's CRL of the product from KDS (or the cache); not trusted without it.")
    var revocation = false

    func validate() throws {
        guard url.hasPrefix("https://") else {
            throw ValidationError("--kds-url must be an https:// URL, got '\(url)'")
        }
        guard timeout > 0 && timeout <= 300 else { throw ValidationError("--kds-timeout must be in (0, 300] seconds") }
        if disabled && (offline || ca != nil || cache != nil || revocation) {
            throw ValidationError(
                "--no-kds turns KDS off; it does not go with --kds-offline, --kds-ca, --kds-cache or --kds-crl")
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

    /// Runs `verify(fetched certificates, fetched CRLs)`; when the only failure is a missing VCEK, gets the
    /// VCEK from the cache or KDS and runs it again with it. A VCEK that cannot be had is explained on
    /// stderr and the first result (not trusted, naming the missing VCEK) stands. With --kds-crl, the
    /// product's CRL from the cache or KDS is checked too, and a CRL that cannot be had is a failure.
    func verify(
        report bytes: [UInt8], certificates: [Certificate], trustRoots: [Certificate],
        _ verify: ([Certificate], [CertificateRevocationList]) throws -> VerificationResult
    ) throws -> VerificationResult {
        var result = try verify([], [])
        guard let report = try? SNPReport(parsing: Array(bytes.prefix(SNPReport.size))) else { return result }
        var fetched: [Certificate] = []
        if result.codes == [.missingSigningCertificate] {
            guard let kds = try client() else {
                printError(
                    "ccagent: the report carries no \(report.signingKey == .vlek ? "VLEK" : "VCEK"); --no-kds is set")
                return result
            }
            do {
                fetched = [try kds.vcek(for: report, extraCertificates: certificates, extraRoots: trustRoots)]
                result = try verify(fetched, [])
            } catch let error as KDSError {
                printError("ccagent: the report carries no VCEK and none was given; \(error)")
                return result
            }
        }
        guard revocation, let kds = try client(), report.signingKey != .none else { return result }
        let kind: AMDCertificates.KeyKind = report.signingKey == .vlek ? .vlek : .vcek
        var product = report.productName
        if product == nil,
            let input = try? SNPVerification(
                report: report, certificates: certificates + fetched, extraRoots: trustRoots,
                shippedCertificates: true, at: .now), case .amd(let anchor) = input.anchor
        {
            product = anchor
        }
        do {
            guard let product else {
                throw KDSError(.notFetchable, "the report names no product (v2) and no AMD chain does; pass --crl")
            }
            return try verify(fetched, [try kds.revocationList(product: product, kind: kind, extraRoots: trustRoots)])
        } catch let error as KDSError {
            result.rejections.append(
                VerificationFailure(.crlUnavailable, "crl: AMD's CRL could not be had (--kds-crl): \(error)"))
            return result
        }
    }
}
