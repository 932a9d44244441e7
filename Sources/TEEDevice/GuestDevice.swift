// SPDX-License-Identifier: Apache-2.0
// The seam between the agent and a TEE: evidence and derived keys, from the kernel or the simulator.

import AgentBase
import SecureMemory
import TEEEvidence

/// Which source of evidence a device is.
public enum TEEKind: String, Sendable, CaseIterable {
    case snp, tdx
    case simSNP = "sim-snp"
    case simTDX = "sim-tdx"
    /// Azure confidential VMs: SNP or TDX behind the paravisor's vTPM (evidence from the HCL report).
    case azSNP = "az-snp"
    case azTDX = "az-tdx"
    case simAzSNP = "sim-az-snp"
    case simAzTDX = "sim-az-tdx"

    /// The protocol-level TEE name a broker sees (`snp`, `tdx`, `az-snp-vtpm`, `az-tdx-vtpm`).
    public var protocolName: String {
        switch self {
        case .snp, .simSNP: "snp"
        case .tdx, .simTDX: "tdx"
        case .azSNP, .simAzSNP: "az-snp-vtpm"
        case .azTDX, .simAzTDX: "az-tdx-vtpm"
        }
    }

    public var isSimulated: Bool { self == .simSNP || self == .simTDX || self == .simAzSNP || self == .simAzTDX }

    /// Whether evidence comes from Azure's paravisor vTPM (real or simulated).
    public var isAzure: Bool { self == .azSNP || self == .azTDX || self == .simAzSNP || self == .simAzTDX }
}

/// Evidence as the hardware produced it.
public struct AttestationEvidence: Sendable {
    public var kind: TEEKind
    /// SNP: the 1184-byte report. TDX: the quote.
    public var bytes: [UInt8]
    /// SNP: the certificate table from the extended report (VCEK/ASK/ARK), when the host provides one.
    public var certificateTable: SNPCertificateTable?
    /// TDX: the CCEL event log, when present.
    public var eventLog: [UInt8]?

    public init(
        kind: TEEKind, bytes: [UInt8], certificateTable: SNPCertificateTable? = nil, eventLog: [UInt8]? = nil
    ) {
        self.kind = kind
        self.bytes = bytes
        self.certificateTable = certificateTable
        self.eventLog = eventLog
    }
}

/// A TEE the agent can ask for evidence and keys.
public protocol GuestDevice: Sendable {
    var kind: TEEKind { get }
    /// A report/quote whose REPORT_DATA is `reportData` (64 bytes, zero-padded by the caller).
    func evidence(reportData: [UInt8], vmpl: UInt32) throws(DeviceError) -> AttestationEvidence
    /// An SNP derived key (32 bytes). TDX has none.
    func derivedKey(_ request: DerivedKeyRequest) throws(DeviceError) -> SecretBytes
}
