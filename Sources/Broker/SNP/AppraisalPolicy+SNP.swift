// SPDX-License-Identifier: Apache-2.0
// The policy's `snp` object: reference values for SNP reports, and their appraisal.

import AgentBase
import CanonicalJSON
import TEEEvidence

/// Reference values an SNP report must match (the policy's `snp` object). Empty lists mean "no constraint".
public struct SNPRules: Sendable, Equatable {
    public var measurements: [String] = []
    public var hostData: [String] = []
    /// Minimum REPORTED_TCB component levels (bootloader, tee, snp, microcode, fmc).
    public var minimumTCB: [String: UInt8] = [:]

    public init() {}

    /// Parses `location.snp` over `base` (a repository inherits the default's values); unknown keys are errors.
    init(_ value: JSONValue, base: SNPRules, at location: String) throws {
        guard case .object(let snp) = value else {
            throw BrokerError("policy: '\(location).snp' must be an object")
        }
        self = base
        for (name, item) in snp {
            switch name {
            case "measurements": measurements = try AppraisalPolicy.hexList(item, at: "\(location).snp.measurements")
            case "host_data": hostData = try AppraisalPolicy.hexList(item, at: "\(location).snp.host_data")
            case "min_tcb":
                guard case .object(let components) = item else {
                    throw BrokerError("policy: 'min_tcb' must be an object")
                }
                for (component, level) in components {
                    guard ["bootloader", "tee", "snp", "microcode", "fmc"].contains(component),
                        let byte = level.byteValue
                    else {
                        throw BrokerError("policy: min_tcb.\(component) is not a known component with a 0-255 value")
                    }
                    minimumTCB[component] = byte
                }
            default: throw BrokerError("policy: unknown key '\(location).snp.\(name)'")
            }
        }
    }
}

extension AppraisalPolicy.Rules {
    /// The failing rules for an SNP report (empty = allowed).
    public func appraise(snp report: SNPReport) -> [String] {
        var failures: [String] = []
        if report.policy.debugAllowed && !allowDebug {
            failures.append("debug forbidden: the guest policy allows debugging")
        }
        if report.vmpl > maxVMPL { failures.append("max_vmpl: report VMPL \(report.vmpl) > \(maxVMPL)") }
        let measurement = Hex.encode(report.measurement)
        if !snp.measurements.isEmpty && !snp.measurements.contains(measurement) {
            failures.append("snp.measurements: \(measurement) is not in the allowlist")
        }
        let hostData = Hex.encode(report.hostData)
        if !snp.hostData.isEmpty && !snp.hostData.contains(hostData) {
            failures.append("snp.host_data: \(hostData) is not in the allowlist")
        }
        for (component, minimum) in snp.minimumTCB.sorted(by: { $0.key < $1.key }) {
            let tcb = report.reportedTCB
            let value: UInt8? =
                switch component {
                case "bootloader": tcb.bootloader
                case "tee": tcb.tee
                case "snp": tcb.snp
                case "microcode": tcb.microcode
                default: tcb.fmc
                }
            if let value, value < minimum { failures.append("snp.min_tcb.\(component): \(value) < \(minimum)") }
        }
        return failures
    }
}
