// SPDX-License-Identifier: Apache-2.0
// /attest for SNP evidence: the report, its binding, its chain, and the claims recorded in the token.

import AgentBase
import CanonicalJSON
import Cryptography
import EvidenceVerification
import Foundation
import KBSProtocol
import TEEEvidence

extension KBSBroker {
    /// Verifies SNP evidence whose REPORT_DATA must equal `expected`; its claims for the token, or why not.
    func verifySNP(_ evidence: JSONValue, expectedReportData expected: [UInt8]) -> Verdict {
        let parsed: (report: SNPReport, certificates: [(String, [UInt8])])
        do {
            parsed = try EvidenceJSON.parseSNP(evidence)
        } catch {
            return .failure("\(error)")
        }
        let report = parsed.report
        guard report.reportData == expected else { return .failure("REPORT_DATA does not bind the runtime data") }
        let certificates =
            parsed.certificates.compactMap { try? Certificate(der: $0.1) } + configuration.certificates
        let result = SNPVerifier.verify(
            report: report, certificates: certificates, extraRoots: configuration.trustedSimulatorRoots, at: Date())
        guard result.trusted else {
            return .failure("SNP evidence not trusted: " + result.failures.joined(separator: "; "))
        }
        return .success(
            .object([
                (
                    "snp",
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
                ),
                ("report_data", .string(Hex.encode(expected))),
            ]))
    }
}
