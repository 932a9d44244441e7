// SPDX-License-Identifier: Apache-2.0
// /attest for SNP evidence: the report, its chain (completed from AMD KDS when the evidence lacks the
// VCEK), its binding, and the claims recorded in the token.

import AMDKDS
import AgentBase
import CanonicalJSON
import Cryptography
import Dispatch
import EvidenceVerification
import Foundation
import KBSProtocol
import TEEEvidence

extension KBSBroker {
    /// Verifies SNP evidence whose REPORT_DATA must equal `expected`; its claims for the token, or why not.
    ///
    /// The chain is checked first, then the binding, so a failure names the first thing that is wrong
    /// with the evidence itself. Certificates are taken from the evidence by type (VCEK, VLEK, ASK, ARK;
    /// CRL entries as CRLs; `OTHER` entries are ignored), then `--cert-dir`, then AMD's shipped ASK/ASVK
    /// and ARK. A VCEK-signed report without its VCEK (Trustee's `cert_chain: null`) gets it from the
    /// KDS cache or AMD KDS (``BrokerConfiguration/kds``), checked like any other certificate.
    func verifySNP(_ evidence: JSONValue, expectedReportData expected: [UInt8]) -> Verdict {
        let parsed: (report: SNPReport, certificates: [(String, [UInt8])])
        do {
            parsed = try EvidenceJSON.parseSNP(evidence)
        } catch {
            return .failure("\(error)")
        }
        let report = parsed.report
        // As Trustee's SNP verifier: report versions 3 to 5. A version 2 report has no CPUID fields, so
        // nothing says which processor generation's chain must sign it (`ccagent verify snp` still reads it).
        guard (3...5).contains(report.version) else {
            return .failure(
                "SNP report version \(report.version) is not accepted (versions 3 to 5 are, as Trustee accepts them; "
                    + "version 2 does not name the processor generation: update the SNP firmware)")
        }
        // VCEK/VLEK entries first: the leaf is the first certificate that looks like one, so a VCEK-looking
        // certificate in an entry of another type can never displace the VCEK entry.
        var leaves: [Certificate] = []
        var certificates: [Certificate] = []
        var revocationLists: [CertificateRevocationList] = []
        for (type, der) in parsed.certificates {
            switch type {
            case "VCEK", "VLEK", "ASK", "ARK":
                guard let certificate = try? Certificate(der: der) else {
                    return .failure("SNP evidence: the \(type) entry of 'cert_chain' is not a DER certificate")
                }
                if type == "VCEK" || type == "VLEK" {
                    leaves.append(certificate)
                } else {
                    certificates.append(certificate)
                }
            case "CRL":
                guard let crl = try? CertificateRevocationList(der: der) else {
                    return .failure("SNP evidence: the CRL entry of 'cert_chain' is not a DER CRL")
                }
                revocationLists.append(crl)
            default:
                continue
            }
        }
        certificates = leaves + certificates + configuration.certificates
        let now = Timestamp.now
        var fetched: [Certificate] = []
        var result = SNPVerifier.verify(
            report: report, certificates: certificates, extraRoots: configuration.trustedSimulatorRoots,
            revocationLists: revocationLists, shippedCertificates: true, at: now)
        if result.codes == [.missingSigningCertificate], report.signingKey == .vcek {
            guard let kds = configuration.kds else {
                return .failure(
                    "SNP evidence not trusted: it carries no VCEK (cert_chain null or without a VCEK entry) and "
                        + "fetching from AMD KDS is off (--no-kds); start ccbroker without --no-kds (with --kds-url "
                        + "for a mirror, or --kds-offline with a filled --kds-cache), or put the VCEK in --cert-dir")
            }
            do {
                fetched = [
                    try kds.vcek(
                        for: report, extraCertificates: certificates, extraRoots: configuration.trustedSimulatorRoots)
                ]
            } catch {
                return .failure("SNP evidence not trusted: it carries no VCEK and it could not be had: \(error)")
            }
            result = SNPVerifier.verify(
                report: report, certificates: certificates + fetched, extraRoots: configuration.trustedSimulatorRoots,
                revocationLists: revocationLists, shippedCertificates: true, at: now)
        }
        if result.trusted, configuration.kdsRevocation, let kds = configuration.kds {
            guard let product = report.productName ?? result.passed.lazy.compactMap(Self.amdProduct).first else {
                return .failure("SNP evidence not trusted: --kds-crl is set and the report names no product (v2)")
            }
            let crl: CertificateRevocationList
            do {
                crl = try kds.revocationList(
                    product: product, kind: report.signingKey == .vlek ? .vlek : .vcek,
                    extraRoots: configuration.trustedSimulatorRoots)
            } catch {
                return .failure("SNP evidence not trusted: AMD's CRL could not be had (--kds-crl): \(error)")
            }
            result = SNPVerifier.verify(
                report: report, certificates: certificates + fetched, extraRoots: configuration.trustedSimulatorRoots,
                revocationLists: revocationLists + [crl], shippedCertificates: true, at: now)
        }
        guard result.trusted else {
            return .failure("SNP evidence not trusted: " + result.failures.joined(separator: "; "))
        }
        guard report.reportData == expected else { return .failure("REPORT_DATA does not bind the runtime data") }
        return .success(
            .object([
                (
                    "snp",
                    KBSBroker.claims(snp: report)
                ),
                ("report_data", .string(Hex.encode(expected))),
            ]))
    }

    /// The product of a passed "… chain to AMD ARK-<product>" check.
    static func amdProduct(_ passed: String) -> String? {
        guard let range = passed.range(of: "chain to AMD ARK-") else { return nil }
        return String(passed[range.upperBound...])
    }

    /// ``handle(_:)`` for the HTTP front, which runs on Swift concurrency / NIO threads: `/attest` may block
    /// on AMD KDS (libcurl, up to the KDS timeout) and spends milliseconds in RSA/ECDSA, so it runs on a
    /// Dispatch worker thread instead, and the event loops keep serving other clients meanwhile. The wait
    /// is bounded by the KDS connect and total timeouts; other requests are answered in place.
    public func handleOffExecutor(_ request: BrokerRequest) async -> BrokerResponse {
        guard request.method == "POST", request.path.hasPrefix("/kbs/v0/attest") else { return handle(request) }
        return await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(returning: self.handle(request))
            }
        }
    }

    /// The token's `snp` claims of a verified report (also the hardware claims of Azure SNP evidence).
    static func claims(snp report: SNPReport) -> JSONValue {
        .object([
            ("measurement", .string(Hex.encode(report.measurement))),
            ("host_data", .string(Hex.encode(report.hostData))),
            ("chip_id", .string(Hex.encode(report.chipID))), ("vmpl", .integer(report.vmpl)),
            ("policy_debug_allowed", .bool(report.policy.debugAllowed)),
            ("reported_tcb_bootloader", .integer(report.reportedTCB.bootloader)),
            ("reported_tcb_tee", .integer(report.reportedTCB.tee)),
            ("reported_tcb_snp", .integer(report.reportedTCB.snp)),
            ("reported_tcb_microcode", .integer(report.reportedTCB.microcode)),
            ("raw_report", .string(Base64.encode(report.rawBytes))),
        ])
    }
}
