// SPDX-License-Identifier: Apache-2.0
// sim-az-snp / sim-az-tdx: the Azure evidence path on swtpm, a simulated paravisor and the simulator's IMDS.

import AgentBase
import AzureIMDS
import TEEDevice
import VTPM

#if canImport(Glibc)
import Glibc
#endif

/// Builds the simulated Azure device: the same ``AzureVTPMDevice`` code as on Azure (NV write, NV read,
/// quote, IMDS), with
/// - the TPM: `CCAGENT_TCTI` when set (an swtpm the caller runs), else an swtpm this process starts with its
///   state under the simulator directory and stops when the device is released;
/// - the paravisor: ``SimulatedParavisor``, which provisions the AK and refreshes the HCL report;
/// - IMDS: `CCAGENT_IMDS_URL` when set (a stand-in the caller runs), else a ``StandInIMDS`` this process
///   serves on 127.0.0.1 from ``SimulatedIMDS`` (so the agent's IMDS client runs over HTTP as on Azure).
public enum SimulatedAzure {
    /// Keeps the swtpm process for as long as a device uses it.
    final class Holder: @unchecked Sendable {
        let softwareTPM: SoftwareTPM?
        let tcti: String
        var imds: StandInIMDS?

        init(softwareTPM: SoftwareTPM?, tcti: String) {
            self.softwareTPM = softwareTPM
            self.tcti = tcti
        }

        deinit { imds?.stop() }
    }

    /// A non-empty environment variable.
    public static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    public static func device(
        kind: TEEKind, state: SimulatorState, tcti: String? = environment("CCAGENT_TCTI"),
        imdsURL: String? = environment("CCAGENT_IMDS_URL")
    ) throws(DeviceError) -> AzureVTPMDevice {
        guard kind == .simAzSNP || kind == .simAzTDX else {
            throw DeviceError(.invalidRequest, "'\(kind.rawValue)' is not a simulated Azure TEE")
        }
        let holder: Holder
        if let tcti {
            holder = Holder(softwareTPM: nil, tcti: tcti)
        } else {
            let name = kind == .simAzSNP ? "swtpm-az-snp" : "swtpm-az-tdx"
            let software = try SoftwareTPM.start(stateDirectory: state.directory + "/" + name)
            holder = Holder(softwareTPM: software, tcti: software.tcti)
        }
        let paravisor = SimulatedParavisor(state: state, kind: kind)
        do throws(VTPMError) {
            try paravisor.provision(try TPM(tcti: holder.tcti))
        } catch {
            throw DeviceError(
                .unavailable, "failed to provision the simulated Azure vTPM on '\(holder.tcti)': \(error)")
        }
        let url: String
        if let imdsURL {
            url = imdsURL
        } else {
            let standIn = try StandInIMDS(source: SimulatedIMDS(state: state))
            holder.imds = standIn
            url = standIn.url
        }
        let collateral: @Sendable () throws(IMDSError) -> any AzureCollateralSource = { () throws(IMDSError) in
            _ = holder
            return try IMDSClient(baseURL: url)
        }
        return AzureVTPMDevice(
            kind: kind, openTPM: { () throws(VTPMError) in try TPM(tcti: holder.tcti) }, collateral: collateral,
            afterReportDataWrite: { (tpm: any TPMCommands) throws(VTPMError) in
                _ = holder
                try paravisor.refresh(tpm)
            }, settleSeconds: 0.2)
    }
}
