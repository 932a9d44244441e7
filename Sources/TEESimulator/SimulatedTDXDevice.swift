// SPDX-License-Identifier: Apache-2.0
// The simulated TDX module and quoting enclave: real-format v4 quotes signed like the hardware signs them.

import AgentBase
import Cryptography
import SecureMemory
import TEEDevice
import TEEEvidence

/// A TDX "device" backed by ``SimulatorState``: quotes v4 whose QE report binds the attestation key
/// and is signed by the simulated PCK, with the PCK chain as type-5 certification data. RTMR0–2 are
/// the replay of ``SimulatedFirmwareLog``, RTMR3 the simulated register its extensions changed; the
/// evidence carries the firmware log and the agent's runtime log as `cc_eventlog`.
public struct SimulatedTDXDevice: GuestDevice {
    public let state: SimulatorState
    public var kind: TEEKind { .simTDX }

    public init(state: SimulatorState) { self.state = state }

    public func evidence(reportData: [UInt8], vmpl: UInt32) throws(DeviceError) -> AttestationEvidence {
        guard reportData.count <= 64 else {
            throw DeviceError(
                .invalidRequest, "failed to request a quote: report data is \(reportData.count) bytes, at most 64")
        }
        do {
            guard let (_, x, y) = try state.tdxAttestationKey.publicKey.ecCoordinates else {
                throw DeviceError(.simulatorState, "the simulated attestation key is not EC")
            }
            let attestationKey = x + y
            let authData = SecureRandom.bytes(32)
            var qeReport = [UInt8](repeating: 0, count: 384)
            // MRSIGNER @128, ISVPRODID 2 @256, ISVSVN @258, REPORTDATA @320 = SHA-256(key ‖ auth) ‖ 0³².
            qeReport.replaceSubrange(128..<160, with: [UInt8](repeating: 0x51, count: 32))
            qeReport[256] = 2
            qeReport[258] = 8
            qeReport.replaceSubrange(320..<352, with: DigestAlgorithm.sha256.hash(attestationKey + authData))
            let (qr, qs) = try state.pckKey.signECDSA(.sha256, data: qeReport)
            let firmware = state.firmwareLog
            var registers = firmware.registers
            registers[3] = try state.rtmr3()
            let body = TDReportBody(
                mrTD: Hex.decode(state.launch.mrTD) ?? [], rtmr: registers, reportData: reportData)
            var quote = TDXQuote(
                body: body, signature: [UInt8](repeating: 0, count: 64), attestationKey: attestationKey,
                qeReport: qeReport, qeReportSignature: qr + qs, qeAuthData: authData,
                pckChain: Array((state.pck.pem + state.tdxRoot.pem).utf8) + [0])
            let (r, s) = try state.tdxAttestationKey.signECDSA(.sha256, data: quote.headerAndBody())
            quote.setSignature(r + s)
            // The CCEL and the agent's runtime log, joined as on a real TD (TDXEventLogSource).
            let runtime = try RuntimeEventLog.read(path: state.runtimeLogPath) ?? []
            return AttestationEvidence(
                kind: .simTDX, bytes: quote.rawBytes,
                eventLog: CCELEventLog.evidenceBytes(firmware: firmware.bytes, runtime: runtime))
        } catch let error as DeviceError {
            throw error
        } catch {
            throw DeviceError(.simulatorState, "failed to sign the simulated quote: \(error)")
        }
    }

    public func derivedKey(_ request: DerivedKeyRequest) throws(DeviceError) -> SecretBytes {
        throw DeviceError(.unavailable, "TDX has no derived keys; bind TDX volumes to the broker")
    }
}

extension SimulatedTDXDevice: RuntimeMeasurer {
    public var runtimeLogPath: String { state.runtimeLogPath }

    public func extendRTMR3(digest: [UInt8]) throws(DeviceError) {
        try state.extendRTMR3(digest: digest)
    }
}
