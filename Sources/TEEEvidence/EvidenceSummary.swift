// SPDX-License-Identifier: Apache-2.0
// The stable, documented summary of evidence used by `report decode --json` and `verify --json`.

import AgentBase

/// An evidence summary with stable JSON keys.
public enum EvidenceSummary: Sendable, Equatable, Encodable {
    case snp(SNP)
    case tdx(TDX)
    /// Azure vTPM evidence (`az-snp-vtpm`, `az-tdx-vtpm`): Azure/AzureSummary.swift.
    case azure(Azure)

    public struct SNP: Sendable, Equatable, Encodable {
        public var type = "snp"
        public var version: UInt32
        public var vmpl: UInt32
        public var policy: UInt64
        public var measurement: String
        public var reportData: String
        public var hostData: String
        public var chipID: String
        public var signingKey: String
        public var reportedTCB: TCB
        public var product: String?
        public var debug: Bool
        public var simulated: Bool

        public struct TCB: Sendable, Equatable, Encodable {
            public var bootloader: UInt8
            public var tee: UInt8
            public var snp: UInt8
            public var microcode: UInt8
            public var fmc: UInt8?

            public func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(bootloader, forKey: .bootloader)
                try container.encode(tee, forKey: .tee)
                try container.encode(snp, forKey: .snp)
                try container.encode(microcode, forKey: .microcode)
                try container.encode(fmc, forKey: .fmc)  // explicit null before Turin
            }

            enum CodingKeys: String, CodingKey { case bootloader, tee, snp, microcode, fmc }
        }

        enum CodingKeys: String, CodingKey {
            case type, version, vmpl, policy, measurement, debug, simulated, product
            case reportData = "report_data"
            case hostData = "host_data"
            case chipID = "chip_id"
            case signingKey = "signing_key"
            case reportedTCB = "reported_tcb"
        }
    }

    public struct TDX: Sendable, Equatable, Encodable {
        public var type = "tdx"
        public var version: UInt16
        public var mrTD: String
        public var mrSeam: String
        public var rtmr: [String]
        public var reportData: String
        public var tdAttributes: String
        public var xfam: String
        public var teeTCBSVN: String
        public var debug: Bool
        public var simulated: Bool

        enum CodingKeys: String, CodingKey {
            case type, version, rtmr, xfam, debug, simulated
            case mrTD = "mr_td"
            case mrSeam = "mr_seam"
            case reportData = "report_data"
            case tdAttributes = "td_attributes"
            case teeTCBSVN = "tee_tcb_svn"
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .snp(let snp): try snp.encode(to: encoder)
        case .tdx(let tdx): try tdx.encode(to: encoder)
        case .azure(let azure): try azure.encode(to: encoder)
        }
    }
}

extension SNPReport {
    /// The stable summary of this report. `simulated` is set by callers that know the origin.
    public func summary(simulated: Bool = false) -> EvidenceSummary.SNP {
        let tcb = reportedTCB
        return EvidenceSummary.SNP(
            version: version, vmpl: vmpl, policy: policy.raw, measurement: Hex.encode(measurement),
            reportData: Hex.encode(reportData), hostData: Hex.encode(hostData),
            chipID: Hex.encode(chipID), signingKey: signingKey.rawValue,
            reportedTCB: .init(
                bootloader: tcb.bootloader, tee: tcb.tee, snp: tcb.snp, microcode: tcb.microcode, fmc: tcb.fmc),
            product: productName, debug: policy.debugAllowed, simulated: simulated)
    }

    /// A human-readable multi-line description.
    public func describe() -> String {
        var lines = [
            "SNP attestation report, version \(version)" + (productName.map { " (\($0))" } ?? ""),
            "  VMPL             : \(vmpl)",
            "  guest SVN        : \(guestSVN)",
            "  policy           : 0x\(String(policy.raw, radix: 16)) [\(policy.flagNames.joined(separator: ", "))]"
                + " ABI \(policy.abiMajor).\(policy.abiMinor)",
            "  measurement      : \(Hex.encode(measurement))",
            "  report data      : \(Hex.encode(reportData))",
            "  host data        : \(Hex.encode(hostData))",
            "  ID key digest    : \(Hex.encode(idKeyDigest))",
            "  chip ID          : \(Hex.encode(chipID))",
            "  signing key      : \(signingKey.rawValue)",
            "  reported TCB     : \(reportedTCB)",
            "  current TCB      : \(currentTCB)",
            "  committed TCB    : \(committedTCB)",
            "  launch TCB       : \(launchTCB)",
            "  firmware         : \(currentMajor).\(currentMinor).\(currentBuild)",
            "  platform info    : 0x\(String(platformInfo.raw, radix: 16))",
        ]
        if version >= 3 {
            lines.append(
                "  CPUID            : family 0x\(String(cpuidFamily, radix: 16)) model 0x\(String(cpuidModel, radix: 16))"
                    + " stepping \(cpuidStepping)")
        }
        if policy.debugAllowed {
            lines.append("  WARNING          : the guest policy allows debugging (not confidential)")
        }
        if policy.migrationAgentAllowed {
            lines.append("  note             : the guest policy allows a migration agent")
        }
        return lines.joined(separator: "\n")
    }
}
