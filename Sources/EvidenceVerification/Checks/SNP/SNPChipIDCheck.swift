// SPDX-License-Identifier: Apache-2.0
// CHIP_ID against the VCEK's hwID extension (a VLEK names no chip).

import TEEEvidence

/// CHIP_ID (its first 8 bytes with Turin's encoding) equals the VCEK's hwID extension; AMD stores the raw
/// bytes, a DER OCTET STRING wrapper is accepted too. Does not apply to a VLEK.
public struct SNPChipIDCheck: VerificationCheck {
    /// AMD's hwID extension OID.
    static let hwID = "1.3.6.1.4.1.3704.1.4"

    public init() {}

    public func evaluate(_ input: SNPVerification) -> CheckResult {
        guard input.signingKey == .vcek else { return CheckResult() }
        let report = input.report
        let expected = report.usesTurinTCBEncoding ? Array(report.chipID.prefix(8)) : report.chipID
        let raw = input.leaf.extensionValue(oid: Self.hwID)
        guard let raw, raw == expected || DER.octetString(raw) == expected else {
            return .fail(.chipIDMismatch, "chip id: CHIP_ID does not match the VCEK's hwID extension")
        }
        return .pass("chip id matches the VCEK hwID")
    }
}
