// SPDX-License-Identifier: Apache-2.0
// The SNP report's ECDSA P-384 signature over bytes 0x000–0x29F, as received, with the VCEK or VLEK.

import Cryptography
import TEEEvidence

/// SIGNATURE_ALGO is ECDSA P-384 with SHA-384, and the signature over the raw signed bytes verifies with
/// the VCEK or VLEK.
public struct SNPReportSignatureCheck: VerificationCheck {
    public init() {}

    public func evaluate(_ input: SNPVerification) -> CheckResult {
        let report = input.report
        guard report.signatureAlgorithm == 1 else {
            return .fail(
                .unsupportedSignatureAlgorithm,
                "report signature: SIGNATURE_ALGO is \(report.signatureAlgorithm), not 1 (ECDSA P-384 with SHA-384)")
        }
        let (r, s) = report.signatureBigEndian()
        guard input.leaf.publicKey.verifyECDSA(.sha384, r: r, s: s, data: report.signedBytes) else {
            return .fail(
                .reportSignatureMismatch,
                "report signature: does not verify with the \(input.label) '\(input.leaf.subject)'")
        }
        return .pass("report signature")
    }
}
