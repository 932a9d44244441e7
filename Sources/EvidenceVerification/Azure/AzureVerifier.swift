// SPDX-License-Identifier: Apache-2.0
// Verifies Azure vTPM evidence (az-snp-vtpm, az-tdx-vtpm): the TPM quote, the HCL bindings, the hardware report.

import AgentBase
import Cryptography
import TEEEvidence

/// Verifies Azure confidential-VM evidence as Trustee's `az-snp-vtpm` and `az-tdx-vtpm` verifiers do, by
/// running ``standardChecks`` (``AzureVerification``) and then the hardware report's own verifier:
///
/// 1. ``AzureQuoteSignatureCheck``: the TPM quote is signed by `HCLAkPub` from the HCL variable data.
/// 2. ``AzureQuoteNonceCheck``: its extraData is the expected report data.
/// 3. ``AzurePCRDigestCheck``: SHA-256 of PCRs 0-23 (SHA-256 bank) is the quote's pcrDigest.
/// 4. ``AzureVariableDataBindingCheck``: SHA-256 of the variable data is REPORT_DATA[0:32] of the SNP
///    report or the TD quote.
/// 5. ``AzureUserDataCheck`` (evidence v2): `user-data` starts with the expected report data.
/// 6. SNP: ``AzureSNPVMPLCheck`` (VMPL 0) and ``SNPVerifier`` with the evidence's VCEK (chain to AMD's
///    pinned ARK; the ASK comes from `certificates`). TDX: ``AzureTDReportMatchCheck`` and ``TDXVerifier``
///    on the TD quote (PCK chain to Intel; TCB status with collateral).
public enum AzureVerifier {
    /// The vTPM and HCL checks, in the order their failures are listed.
    @VerificationChecks<AzureVerification>
    public static var standardChecks: [any VerificationCheck<AzureVerification>] {
        AzureQuoteSignatureCheck()
        AzureQuoteNonceCheck()
        AzurePCRDigestCheck()
        AzureVariableDataBindingCheck()
        AzureUserDataCheck()
        AzureSNPVMPLCheck()
        AzureTDReportMatchCheck()
    }

    /// - Parameters:
    ///   - expectedReportData: the TPM quote's expected qualifying data, as Trustee's KBS computes it (the
    ///     runtime-data digest, not padded).
    ///   - certificates: more certificates for the SNP chain (ASK/ARK) besides the evidence's VCEK.
    ///   - extraRoots: roots trusted besides AMD's and Intel's pinned ones.
    public static func verify(
        evidence: AzureEvidence, expectedReportData: [UInt8], certificates: [Certificate] = [],
        extraRoots: [Certificate] = [], revocationLists: [CertificateRevocationList] = [],
        collateral: TDXCollateral? = nil, at time: Timestamp,
        checks: [any VerificationCheck<AzureVerification>] = AzureVerifier.standardChecks
    ) -> VerificationResult {
        var result = checks.evaluate(AzureVerification(evidence: evidence, expectedReportData: expectedReportData))
        let hardware: VerificationResult
        switch (evidence.hclReport.hardwareReport, evidence.tdQuote) {
        case (.snp(let report), _):
            var given = certificates
            if let vcek = evidence.vcek {
                guard let parsed = try? Certificate.parse(pemOrDER: vcek) else {
                    result.fail(.missingSigningCertificate, "vcek: the evidence's 'vcek' is not a readable certificate")
                    return VerificationResult(result, summary: .azure(evidence.summary()))
                }
                given = parsed + given
            }
            hardware = SNPVerifier.verify(
                report: report, certificates: given, extraRoots: extraRoots, revocationLists: revocationLists,
                shippedCertificates: true, at: time)
        case (.tdx(_), let quote?):
            hardware = TDXVerifier.verify(quote: quote, extraRoots: extraRoots, collateral: collateral, at: time)
        case (.tdx(_), nil):
            result.fail(.hclTDReportMismatch, "td quote: az-tdx-vtpm evidence without a TD quote")
            return VerificationResult(result, summary: .azure(evidence.summary()))
        }
        result.failures += hardware.rejections
        result.passed += hardware.passed
        return VerificationResult(result, summary: .azure(evidence.summary()))
    }
}

extension EvidenceVerifier {
    /// Verifies Azure vTPM evidence JSON (v0, v1 or v2; the TEE is read from its HCL report).
    ///
    /// - Parameters:
    ///   - evidence: the evidence document (`primary_evidence` of an /attest request).
    ///   - reportData: the TPM quote's expected qualifying data.
    ///   - certificates: AMD ASK/ARK (and any other) certificates, for SNP.
    ///   - trustRoots: extra roots besides the pinned vendor roots.
    ///   - collateralDirectory: Intel PCS collateral for the TD quote's TCB status.
    public static func verifyAzure(
        evidence: [UInt8], reportData: [UInt8], certificates: [NamedBytes] = [], trustRoots: [NamedBytes] = [],
        collateralDirectory: String? = nil, at time: Timestamp
    ) throws(VerificationError) -> VerificationResult {
        let parsed: AzureEvidence
        do {
            parsed = try AzureEvidence(parsing: evidence)
        } catch {
            throw VerificationError(.unreadableEvidence, "failed to read the Azure evidence", underlying: error)
        }
        let collateral = try loadCollateral(collateralDirectory)
        return AzureVerifier.verify(
            evidence: parsed, expectedReportData: reportData,
            certificates: try loadCertificates(certificates, what: "certificate"),
            extraRoots: try loadCertificates(trustRoots, what: "trust root"), collateral: collateral, at: time)
    }
}
