// SPDX-License-Identifier: Apache-2.0
// The simulated SNP firmware: real-format v5 reports signed by the simulator's VCEK, and MSG_KEY_REQ keys.

import AgentBase
import Cryptography
import SecureMemory
import TEEEvidence

/// An SNP "device" backed by ``SimulatorState``.
public struct SimulatedSNPDevice: GuestDevice {
    public let state: SimulatorState
    public var kind: TEEKind { .simSNP }

    public init(state: SimulatorState) { self.state = state }

    /// A version-5 report (Genoa CPUID 19h/11h/1) signed over 0x000–0x29F with ECDSA P-384, and the
    /// certificate table an extended report would carry.
    public func evidence(reportData: [UInt8], vmpl: UInt32) throws(DeviceError) -> AttestationEvidence {
        guard reportData.count <= 64 else {
            throw DeviceError(
                .invalidRequest, "failed to request a report: report data is \(reportData.count) bytes, at most 64")
        }
        guard vmpl <= 3 else {
            throw DeviceError(.invalidRequest, "failed to request a report: VMPL \(vmpl) is not 0-3")
        }
        let launch = state.launch
        let tcb = SimulatorState.reportedTCB.raw
        var report = SNPReport(
            version: 5, guestSVN: launch.guestSVN, policy: launch.policy, familyID: hex(launch.familyID),
            imageID: hex(launch.imageID), vmpl: vmpl, currentTCB: tcb, platformInfo: 0x25, keyInfo: 0,
            reportData: reportData, measurement: hex(launch.measurement), hostData: hex(launch.hostData),
            idKeyDigest: [], authorKeyDigest: [], reportID: SecureRandom.bytes(32),
            reportIDMA: [UInt8](repeating: 0xFF, count: 32), reportedTCB: tcb, cpuid: (0x19, 0x11, 1),
            chipID: hex(launch.chipID), committedTCB: tcb, currentFirmware: (40, 55, 1),
            committedFirmware: (40, 55, 1), launchTCB: tcb, launchMitigationVector: 0, currentMitigationVector: 0)
        do {
            let (r, s) = try state.vcekKey.signECDSA(.sha384, data: Array(report.serialize()[SNPReport.signedRange]))
            report.setSignature(r: r, s: s)
        } catch {
            throw DeviceError(.simulatorState, "failed to sign the simulated report: \(error)")
        }
        let table = SNPCertificateTable(certificates: [
            (.vcek, state.vcek.der), (.ask, state.ask.der), (.ark, state.ark.der),
        ])
        return AttestationEvidence(kind: .simSNP, bytes: report.rawBytes, certificateTable: table)
    }

    /// A 32-byte key from the chip secret and every selected input, as MSG_KEY_REQ describes: the root
    /// key, the field mask, VMPL, guest SVN and TCB version always; the policy, image id, family id,
    /// measurement, launch guest SVN and committed TCB when selected. Parameters the firmware would
    /// reject (SVN above the launch SVN, TCB above the committed TCB) are rejected the same way.
    public func derivedKey(_ request: DerivedKeyRequest) throws(DeviceError) -> SecretBytes {
        let launch = state.launch
        guard request.guestSVN <= launch.guestSVN else {
            throw DeviceError(
                .firmware,
                "the firmware refused MSG_KEY_REQ (INVALID_PARAMS): guest SVN \(request.guestSVN) exceeds the "
                    + "launch SVN \(launch.guestSVN)", firmwareError: 0x16)
        }
        guard
            request.tcbVersion == 0
                || TCBVersion(raw: request.tcbVersion, turinEncoding: false).isAtMost(SimulatorState.reportedTCB)
        else {
            throw DeviceError(
                .firmware, "the firmware refused MSG_KEY_REQ (INVALID_PARAMS): TCB version exceeds the committed TCB",
                firmwareError: 0x16)
        }
        guard request.vmpl <= 3 else {
            throw DeviceError(.invalidRequest, "failed to derive a key: VMPL \(request.vmpl) is not 0-3")
        }
        var w = ByteWriter()
        w.append(Array("ccagent simulator MSG_KEY_REQ v1".utf8))
        w.u32(request.rootKey == .vmrk ? 1 : 0)
        w.u64(request.fields.rawValue)
        w.u32(request.vmpl)
        w.u32(request.guestSVN)
        w.u64(request.tcbVersion)
        if request.fields.contains(.policy) { w.u64(launch.policy) }
        if request.fields.contains(.imageID) { w.append(hex(launch.imageID)) }
        if request.fields.contains(.familyID) { w.append(hex(launch.familyID)) }
        if request.fields.contains(.measurement) { w.append(hex(launch.measurement)) }
        if request.fields.contains(.guestSVN) { w.u32(launch.guestSVN) }
        if request.fields.contains(.tcbVersion) { w.u64(SimulatorState.reportedTCB.raw) }
        do {
            return try HKDF.derive(
                .sha256, inputKeyMaterial: state.chipSecret, salt: [], info: w.bytes, outputByteCount: 32)
        } catch {
            throw DeviceError(.simulatorState, "failed to derive the simulated key: \(error)")
        }
    }

    private func hex(_ text: String) -> [UInt8] { HexString.decode(text) ?? [] }
}

extension TCBVersion {
    fileprivate func isAtMost(_ other: TCBVersion) -> Bool {
        bootloader <= other.bootloader && tee <= other.tee && snp <= other.snp && microcode <= other.microcode
    }
}
