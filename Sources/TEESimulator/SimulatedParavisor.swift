// SPDX-License-Identifier: Apache-2.0
// The Azure paravisor (HCL), simulated on a software TPM: the AK at 0x81000003 and a fresh HCL report per write.

import AgentBase
import AzureIMDS
import CanonicalJSON
import Cryptography
import TEEDevice
import TEEEvidence
import VTPM

/// Plays Azure's paravisor on a software TPM:
///
/// - ``provision(_:)`` makes the attestation key (RSA-2048, RSASSA-SHA256, restricted) persistent at
///   0x81000003 and writes a first HCL report;
/// - ``refresh(_:)``, called after the guest writes NV index 0x01400002, reads those bytes and writes a new
///   HCL report into 0x01400001: its variable data (`keys` with HCLAkPub as a JWK, `vm-configuration`,
///   `user-data` = the report data zero-padded to 64 bytes, hex) is hashed with SHA-256 into REPORT_DATA of
///   a hardware report from the simulated SNP or TDX device (SNP at VMPL 0; TDX a TDREPORT whose fields are
///   those the simulated quote repeats).
///
/// Like the real paravisor, it writes the NV index with owner authorisation; unlike it, it runs in the
/// guest's process, after the guest's NV write (swtpm has no hook).
public struct SimulatedParavisor: Sendable {
    public let state: SimulatorState
    /// `.simAzSNP` or `.simAzTDX`.
    public let kind: TEEKind

    public init(state: SimulatorState, kind: TEEKind) {
        self.state = state
        self.kind = kind
    }

    /// TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_AUTHREAD (readable with the owner or the index auth).
    static let hclAttributes: UInt32 = 0x0000_0002 | 0x0002_0000 | 0x0004_0000

    /// Makes the AK (unless the swtpm state already holds one: RSA key generation in swtpm takes a while)
    /// and writes a first HCL report (user data zero).
    public func provision(_ tpm: TPM, freshKey: Bool = false) throws(VTPMError) {
        if freshKey || (try? tpm.readRSAPublicKey(at: AzureVTPM.attestationKeyHandle)) == nil {
            _ = try tpm.provisionAttestationKey(at: AzureVTPM.attestationKeyHandle)
        }
        // The boot chain a vTPM would have measured: something in PCRs 0, 4, 7 so they are not all zero.
        for (pcr, label) in [(0, "firmware"), (4, "boot loader"), (7, "secure boot policy")] {
            try tpm.extendPCR(pcr, digest: DigestAlgorithm.sha256.hash(Array("simulated \(label)".utf8)))
        }
        try writeReport(tpm, userData: [UInt8](repeating: 0, count: 64))
    }

    /// The hook ``AzureVTPMDevice`` runs after the guest's NV write.
    public func refresh(_ commands: any TPMCommands) throws(VTPMError) {
        guard let tpm = commands as? TPM else {
            throw VTPMError(.invalidArgument, "the simulated paravisor needs a tpm2-tss TPM")
        }
        let written = try AzureVTPM(tpm: tpm).readNV(index: AzureVTPM.reportDataIndex, maxSize: 64)
        try writeReport(tpm, userData: written + [UInt8](repeating: 0, count: 64 - written.count))
    }

    /// The variable data: upstream's JSON (keys, vm-configuration, user-data).
    static func variableData(akPub: RSAPublicKey, userData: [UInt8]) -> [UInt8] {
        let key: JSONValue = .object([
            ("kid", .string("HCLAkPub")), ("key_ops", .array([.string("sign")])), ("kty", .string("RSA")),
            ("e", .string(Base64URL.encode(akPub.exponent))), ("n", .string(Base64URL.encode(akPub.modulus))),
        ])
        let json: JSONValue = .object([
            ("keys", .array([key])),
            (
                "vm-configuration",
                .object([
                    ("console-enabled", .bool(false)), ("secure-boot", .bool(true)), ("tpm-enabled", .bool(true)),
                    ("vmUniqueId", .string("00000000-0000-0000-0000-5157a7ed0001")),
                ])
            ),
            ("user-data", .string(Hex.encode(userData))),
        ])
        return json.serializedBytes()
    }

    /// The HCL report for `userData` (64 bytes).
    public func report(akPub: RSAPublicKey, userData: [UInt8]) throws(VTPMError) -> [UInt8] {
        let variable = SimulatedParavisor.variableData(akPub: akPub, userData: userData)
        let reportData = DigestAlgorithm.sha256.hash(variable) + [UInt8](repeating: 0, count: 32)
        var hardware: [UInt8]
        let reportType: UInt32
        do {
            if kind == .simAzTDX {
                reportType = 4
                let quote = try TDXQuote(
                    parsing: try SimulatedTDXDevice(state: state).evidence(reportData: reportData, vmpl: 0).bytes)
                hardware = SimulatedParavisor.tdReport(quote.body) + [UInt8](repeating: 0, count: 160)
            } else {
                reportType = 2
                hardware = try SimulatedSNPDevice(state: state).evidence(reportData: reportData, vmpl: 0).bytes
            }
        } catch {
            throw VTPMError(.commandFailed, "simulated paravisor: the simulated hardware report failed: \(error)")
        }
        func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        let total = HCLReport.fixedSize + variable.count
        var bytes = HCLReport.magic + le32(2) + le32(UInt32(total)) + le32(2) + le32(0)
        bytes += [UInt8](repeating: 0, count: 12)
        bytes += hardware
        bytes += le32(UInt32(20 + variable.count)) + le32(1) + le32(reportType) + le32(1) + le32(UInt32(variable.count))
        bytes += variable
        return bytes
    }

    /// A TDREPORT (1024 bytes) carrying the fields a quote body repeats (TDReport's layout).
    static func tdReport(_ body: TDReportBody) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: TDReport.size)
        func put(_ offset: Int, _ value: [UInt8]) { bytes.replaceSubrange(offset..<offset + value.count, with: value) }
        put(0, [0x81, 0, 0, 0])
        put(128, body.reportData)
        put(264, body.teeTCBSVN)
        put(280, body.mrSeam)
        put(328, body.mrSignerSeam)
        put(376, body.seamAttributes)
        put(512, body.tdAttributes)
        put(520, body.xfam)
        put(528, body.mrTD)
        put(576, body.mrConfigID)
        put(624, body.mrOwner)
        put(672, body.mrOwnerConfig)
        for (index, value) in body.rtmr.enumerated() { put(720 + 48 * index, value) }
        return bytes
    }

    private func writeReport(_ tpm: TPM, userData: [UInt8]) throws(VTPMError) {
        let akPub = try tpm.readRSAPublicKey(at: AzureVTPM.attestationKeyHandle)
        let bytes = try report(akPub: akPub, userData: userData)
        let index = AzureVTPM.hclReportIndex
        if let existing = try tpm.nvReadPublic(index: index), existing.size != bytes.count {
            try tpm.nvUndefineSpace(index: index)
        }
        if try tpm.nvReadPublic(index: index) == nil {
            try tpm.nvDefineSpace(index: index, size: bytes.count, attributes: SimulatedParavisor.hclAttributes)
        }
        let chunk = try tpm.maxNVBuffer()
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            try tpm.nvWrite(index: index, data: Array(bytes[offset..<end]), offset: offset)
            offset = end
        }
    }
}

/// The simulator's IMDS answers, in process: the simulated VCEK and chain, and TD quotes from the simulated
/// TDX device for the TDREPORTs the simulated paravisor writes.
public struct SimulatedIMDS: AzureCollateralSource {
    public let state: SimulatorState

    public init(state: SimulatorState) { self.state = state }

    public func certificates() throws(IMDSError) -> IMDSCertificates {
        IMDSCertificates(vcek: state.vcek.pem, chain: state.ask.pem + state.ark.pem)
    }

    public func tdQuote(for tdReport: [UInt8]) throws(IMDSError) -> [UInt8] {
        guard let report = try? TDReport(parsing: tdReport) else {
            throw IMDSError(.malformed, "simulated IMDS: the request is not a TDREPORT")
        }
        do {
            return try SimulatedTDXDevice(state: state).evidence(reportData: report.reportData, vmpl: 0).bytes
        } catch {
            throw IMDSError(.status, "simulated IMDS: \(error)")
        }
    }
}
