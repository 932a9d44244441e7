// SPDX-License-Identifier: Apache-2.0
// The HCL report's bindings: variable data into REPORT_DATA, user data (v2), VMPL 0, TDREPORT = TD quote.

import AgentBase
import Cryptography
import TEEEvidence

/// SHA-256 of the HCL variable data (which holds HCLAkPub) is REPORT_DATA[0:32] of the report the hardware
/// signed (the SNP report, or the TD quote): this is what ties the vTPM key to the TEE.
public struct AzureVariableDataBindingCheck: VerificationCheck {
    public init() {}

    public func evaluate(_ input: AzureVerification) -> CheckResult {
        let digest = DigestAlgorithm.sha256.hash(input.evidence.hclReport.variableData)
        let reportData = input.signedReportData
        guard Array(reportData.prefix(32)) == digest else {
            return .fail(
                .hclVariableDataMismatch,
                "hcl variable data: SHA-256 \(Hex.encode(digest)) is not REPORT_DATA[0:32] "
                    + "\(Hex.encode(reportData.prefix(32))) of the hardware report")
        }
        return .pass("hcl variable data bound to the hardware report")
    }
}

/// Evidence v2: the variable data's `user-data` (64 bytes the guest wrote to NV index 0x01400002) starts
/// with the expected report data, binding it into the hardware report too. Earlier versions skip this.
public struct AzureUserDataCheck: VerificationCheck {
    public init() {}

    public func evaluate(_ input: AzureVerification) -> CheckResult {
        guard input.evidence.version >= 2 else { return CheckResult() }
        guard let userData = input.evidence.hclReport.runtimeData.userData else {
            return .fail(.hclUserDataMismatch, "hcl user data: the variable data has no hex 'user-data' (evidence v2)")
        }
        let expected = input.expectedReportData
        guard userData.count >= expected.count, Array(userData.prefix(expected.count)) == expected else {
            return .fail(
                .hclUserDataMismatch,
                "hcl user data: 'user-data' \(Hex.encode(userData)) does not start with the expected report data "
                    + "\(Hex.encode(expected))")
        }
        return .pass("hcl user data")
    }
}

/// SNP: the report was issued at VMPL 0, where Azure's paravisor runs (a report from a higher VMPL could
/// come from the guest itself, which chooses its REPORT_DATA).
public struct AzureSNPVMPLCheck: VerificationCheck {
    public init() {}

    public func evaluate(_ input: AzureVerification) -> CheckResult {
        guard case .snp(let report) = input.evidence.hclReport.hardwareReport else { return CheckResult() }
        guard report.vmpl == 0 else {
            return .fail(.hclVMPLNotZero, "hcl vmpl: the SNP report was issued at VMPL \(report.vmpl), not 0")
        }
        return .pass("snp report at VMPL 0")
    }
}

/// TDX: each field of the HCL report's TDREPORT that a quote repeats (TEE_TCB_SVN, MRSEAM, MRTD, RTMRs,
/// REPORTDATA, …) equals the TD quote's, so the TDREPORT shown is the one Intel's quote signs.
public struct AzureTDReportMatchCheck: VerificationCheck {
    public init() {}

    public func evaluate(_ input: AzureVerification) -> CheckResult {
        guard case .tdx(let report) = input.evidence.hclReport.hardwareReport else { return CheckResult() }
        guard let quote = input.evidence.tdQuote else {
            return .fail(.hclTDReportMismatch, "hcl tdreport: the evidence carries no TD quote")
        }
        let quoted = Dictionary(quote.body.quotedFields.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        let differing = report.quotedFields.filter { quoted[$0.name] != $0.value }.map(\.name)
        guard differing.isEmpty, !report.quotedFields.isEmpty else {
            return .fail(
                .hclTDReportMismatch,
                "hcl tdreport: \(differing.joined(separator: ", ")) of the HCL report's TDREPORT differ from the TD quote"
            )
        }
        return .pass("hcl tdreport matches the td quote")
    }
}
