// SPDX-License-Identifier: Apache-2.0
// The input of the Azure vTPM checks: the parsed evidence, the expected report data, the attestation key.

import Cryptography
import TEEEvidence

/// Azure evidence with the report data it must carry, and the vTPM attestation key (`HCLAkPub`) read
/// from the HCL report's variable data when it is a usable RSA key.
public struct AzureVerification: Sendable {
    public let evidence: AzureEvidence
    /// What the verifier expects as the TPM quote's qualifying data (and, in v2, at the start of `user-data`):
    /// Trustee's KBS passes the runtime-data digest itself (48 bytes for SHA-384), never zero-padded.
    public let expectedReportData: [UInt8]
    /// `HCLAkPub`, or why it cannot be used.
    public let attestationKey: Result<PublicKey, VerificationFailure>

    public init(evidence: AzureEvidence, expectedReportData: [UInt8]) {
        self.evidence = evidence
        self.expectedReportData = expectedReportData
        let runtime = evidence.hclReport.runtimeData
        if let key = runtime.attestationKey {
            do {
                attestationKey = .success(try PublicKey(rsaModulus: key.modulus, exponent: key.exponent))
            } catch {
                attestationKey = .failure(
                    VerificationFailure(
                        .attestationKeyUnreadable,
                        "tpm attestation key: HCLAkPub is not a usable RSA key (\(key.modulusBits) bits; 2048-8192 "
                            + "needed)"))
            }
        } else {
            attestationKey = .failure(
                VerificationFailure(
                    .attestationKeyUnreadable,
                    "tpm attestation key: \(runtime.attestationKeyProblem ?? "HCLAkPub is missing") in the HCL variable "
                        + "data"))
        }
    }

    /// REPORT_DATA of the report the hardware signed: the SNP report's, or the TD quote's (not the
    /// TDREPORT's, which only the same CPU can check).
    public var signedReportData: [UInt8] {
        switch (evidence.hclReport.hardwareReport, evidence.tdQuote) {
        case (.snp(let report), _): report.reportData
        case (.tdx(_), let quote?): quote.body.reportData
        case (.tdx(let report), nil): report.reportData
        }
    }
}
