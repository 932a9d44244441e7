// SPDX-License-Identifier: Apache-2.0
// Verifies an SNP report: signature, VCEK/VLEK chain to a pinned ARK, TCB and chip id against the certificate.

import AgentBase
import Cryptography
import TEEEvidence

/// Verifies SNP attestation reports by running ``standardChecks`` on the report and its resolved chain
/// (``SNPVerification``):
///
/// 1. ``SNPReportSignatureCheck``: the ECDSA P-384 signature over bytes 0x000–0x29F, as received, with the
///    VCEK or VLEK.
/// 2. ``SNPChainCheck``: VCEK→ASK→ARK or VLEK→ASVK→ARK, the ARK self-signed and pinned (AMD's, compiled
///    in, of the report's product) or passed explicitly (`extraRoots`, e.g. the simulator's).
/// 3. ``CertificateValidityCheck`` and ``RevocationCheck``: each certificate valid at `time`, none listed
///    in a CRL of its issuer (AMD KDS CRLs, signed by the ARK, list revoked ASKs/ASVKs).
/// 4. ``SNPReportedTCBCheck`` and ``SNPChipIDCheck``: REPORTED_TCB against the certificate's SPL extensions;
///    CHIP_ID against hwID (VCEK only).
public enum SNPVerifier {
    /// The checks every SNP report must pass, in the order their failures are listed.
    @VerificationChecks<SNPVerification>
    public static var standardChecks: [any VerificationCheck<SNPVerification>] {
        SNPReportSignatureCheck()
        SNPChainCheck()
        CertificateValidityCheck<SNPVerification>()
        RevocationCheck<SNPVerification> { name, date in
            "crl: the CRL of '\(name)' expired at \(date) (fetch a current one from AMD KDS)"
        }
        SNPReportedTCBCheck()
        SNPChipIDCheck()
    }

    /// With `shippedCertificates`, a chain the given certificates do not complete uses AMD's ASK/ASVK and
    /// ARK shipped in ``AMDCertificates`` (see ``SNPVerification/init(report:certificates:extraRoots:revocationLists:shippedCertificates:at:)``).
    public static func verify(
        report: SNPReport, certificates: [Certificate], extraRoots: [Certificate] = [],
        revocationLists: [CertificateRevocationList] = [], shippedCertificates: Bool = false, at time: Timestamp,
        checks: [any VerificationCheck<SNPVerification>] = SNPVerifier.standardChecks
    ) -> VerificationResult {
        var summary = report.summary()
        let input: SNPVerification
        do {
            input = try SNPVerification(
                report: report, certificates: certificates, extraRoots: extraRoots, revocationLists: revocationLists,
                shippedCertificates: shippedCertificates, at: time)
        } catch {
            return VerificationResult(rejections: [error], passed: [], summary: .snp(summary))
        }
        if input.anchor == .explicit, let root = input.root {
            summary.simulated = root.subject.containsText("SIMULATED")
        }
        return VerificationResult(checks.evaluate(input), summary: .snp(summary))
    }
}
