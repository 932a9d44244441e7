// SPDX-License-Identifier: Apache-2.0
// REPORTED_TCB against the SPL extensions of the VCEK/VLEK (the certificate AMD issued for that TCB).

import TEEEvidence

/// Each REPORTED_TCB component (bootloader, TEE, SNP, microcode, and FMC on Turin) equals the SPL
/// extension of the same name in the VCEK/VLEK.
public struct SNPReportedTCBCheck: VerificationCheck {
    /// AMD's SPL extension OIDs (1.3.6.1.4.1.3704.1.3.*).
    enum OID {
        static let blSPL = "1.3.6.1.4.1.3704.1.3.1"
        static let teeSPL = "1.3.6.1.4.1.3704.1.3.2"
        static let snpSPL = "1.3.6.1.4.1.3704.1.3.3"
        static let ucodeSPL = "1.3.6.1.4.1.3704.1.3.8"
        static let fmcSPL = "1.3.6.1.4.1.3704.1.3.9"
    }

    public init() {}

    public func evaluate(_ input: SNPVerification) -> CheckResult {
        let tcb = input.report.reportedTCB
        var specs: [(String, String, UInt8)] = [
            ("bootloader", OID.blSPL, tcb.bootloader), ("tee", OID.teeSPL, tcb.tee), ("snp", OID.snpSPL, tcb.snp),
            ("microcode", OID.ucodeSPL, tcb.microcode),
        ]
        if let fmc = tcb.fmc { specs.append(("fmc", OID.fmcSPL, fmc)) }
        var result = CheckResult()
        for (name, oid, reported) in specs {
            guard let raw = input.leaf.extensionValue(oid: oid), let certified = DER.integer(raw) else {
                result.fail(
                    .missingTCBExtension, "tcb: the \(input.label) has no readable \(name) SPL extension (\(oid))")
                continue
            }
            if certified != UInt64(reported) {
                result.fail(.tcbMismatch, "tcb mismatch: \(name) (report \(reported), certificate \(certified))")
            }
        }
        if result.failures.isEmpty { result.passed.append("reported TCB matches the \(input.label)") }
        return result
    }
}
