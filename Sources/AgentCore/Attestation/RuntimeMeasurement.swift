// SPDX-License-Identifier: Apache-2.0
// ccagent's own RTMR3 extensions, each recorded in the runtime event log so a replay explains RTMR3.

import TEEDevice
import TEEEvidence
import TEESimulator

/// What the agent measures into RTMR3 at run time, and where.
public enum RuntimeMeasurement {
    /// The TD whose RTMR3 the agent can extend for `choice`: the simulated TD for `sim-tdx`, the kernel's
    /// RTMR3 (sysfs, Linux 6.16+) for `tdx`/`auto` where it exists; nil elsewhere (SNP, older kernels).
    public static func measurer(for choice: TEEChoice, simulatorDirectory: String) -> (any RuntimeMeasurer)? {
        switch choice {
        case .simTDX:
            guard let state = try? SimulatorState.load(directory: simulatorDirectory) else { return nil }
            return SimulatedTDXDevice(state: state)
        case .tdx, .auto:
            return RTMR.isAvailable() ? SysfsRuntimeMeasurer() : nil
        default:
            return nil
        }
    }

    /// The event recorded after a volume is unlocked: AAEL `ccagent unlocked v1:<uuid>:<measurement>`,
    /// RTMR3 extended with SHA-384 of its event data (see docs/security.md).
    public static func unlockEvent(uuid: String, measurement: String) throws -> RuntimeEvent {
        try RuntimeEvent(domain: "ccagent", operation: "unlocked", content: "v1:\(uuid):\(measurement)")
    }

    /// Records the unlock of `uuid` in the runtime log and RTMR3.
    public static func recordUnlock(uuid: String, measurement: String, measurer: any RuntimeMeasurer) throws {
        try RuntimeEventLog.record(unlockEvent(uuid: uuid, measurement: measurement), measurer: measurer)
    }
}
