// SPDX-License-Identifier: Apache-2.0
// Adapts a GuestDevice (kernel or simulator) to the broker client's Attester.

import CanonicalJSON
import KBSClient
import KBSProtocol
import TEEDevice
import TEEEvidence
import TEESimulator

/// Evidence for the broker from an SNP or TDX device.
public struct DeviceAttester: Attester {
    public let device: any GuestDevice

    public init(device: any GuestDevice) { self.device = device }

    public var teeName: String { device.kind.protocolName }
    public var isSimulated: Bool { device.kind.isSimulated }

    public func evidence(digest: [UInt8]) throws -> JSONValue {
        let evidence = try device.evidence(reportData: digest, vmpl: 0)
        switch device.kind {
        case .azSNP, .azTDX, .simAzSNP, .simAzTDX:
            // The device made the whole az-*-vtpm document (evidence version 2).
            return try JSONValue.parse(evidence.bytes, maxDepth: 8)
        case .snp, .simSNP:
            let report = try SNPReport(parsing: evidence.bytes)
            return EvidenceJSON.snp(report: report, certificates: evidence.certificateTable)
        case .tdx, .simTDX:
            return EvidenceJSON.tdx(quote: evidence.bytes, eventLog: evidence.eventLog)
        }
    }
}

/// Opens the device a `--tee` choice names. `auto` never picks a simulator.
public enum DeviceSelection {
    public static func attester(for choice: TEEChoice, simulatorDirectory: String) throws -> any Attester {
        switch choice {
        case .sample:
            return SampleAttester()
        default:
            return DeviceAttester(device: try device(for: choice, simulatorDirectory: simulatorDirectory))
        }
    }

    /// The attester over `device` when it is open (so a simulator's state is loaded, and a simulated vTPM
    /// started, once); otherwise the attester for `choice`, whose opening error is the one to report.
    public static func attester(
        for choice: TEEChoice, device: (any GuestDevice)?, simulatorDirectory: String
    ) throws -> any Attester {
        if choice != .sample, let device { return DeviceAttester(device: device) }
        return try attester(for: choice, simulatorDirectory: simulatorDirectory)
    }

    /// The device for `choice`; `platformRoot` prefixes every kernel path (tests point it at a fake tree).
    public static func device(
        for choice: TEEChoice, simulatorDirectory: String, platformRoot: String = ""
    ) throws -> any GuestDevice {
        switch choice {
        case .simSNP:
            return SimulatedSNPDevice(state: try SimulatorState.load(directory: simulatorDirectory))
        case .simTDX:
            return SimulatedTDXDevice(state: try SimulatorState.load(directory: simulatorDirectory))
        case .simAzSNP, .simAzTDX:
            return try SimulatedAzure.device(
                kind: choice == .simAzSNP ? .simAzSNP : .simAzTDX,
                state: try SimulatorState.load(directory: simulatorDirectory))
        case .azSNP, .azTDX:
            return try Platform.openDevice(preferring: choice == .azSNP ? .azSNP : .azTDX, root: platformRoot)
        case .auto, .snp, .tdx:
            return try Platform.openDevice(
                preferring: choice == .auto ? nil : (choice == .snp ? .snp : .tdx), root: platformRoot)
        case .sample:
            throw DeviceError(.unavailable, "the 'sample' TEE has no device; it only exists for the broker exchange")
        }
    }
}
