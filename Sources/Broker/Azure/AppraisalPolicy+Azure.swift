// SPDX-License-Identifier: Apache-2.0
// The policy's `azure` object (PCR allowlists) and the appraisal of Azure vTPM evidence in a token.

import AgentBase
import CanonicalJSON
import KBSProtocol
import TEEEvidence

/// Reference values for Azure vTPM evidence (the policy's `azure` object):
/// `{"pcrs": {"4": ["<hex>"], "9": […], "11": […]}, "min_evidence_version": 2}`, each PCR (0-23, SHA-256 bank)
/// constrained to a list of allowed values (absent or empty: no constraint), and the lowest evidence version
/// accepted (2 puts the report data into the hardware report too, through the HCL user data). The hardware report inside the evidence
/// is appraised by the `snp` / `tdx` rules (and `allow_debug`, `max_vmpl`) as for bare SNP / TDX.
public struct AzureRules: Sendable, Equatable {
    /// Allowed values by PCR index (lower-case hex of 32 bytes).
    public var pcrs: [Int: [String]] = [:]
    /// The lowest evidence version accepted (0: any).
    public var minimumEvidenceVersion = 0

    public init() {}

    /// Parses `location.azure` over `base`; unknown keys, PCR indices outside 0-23 and values that are not
    /// 32 bytes of hex are errors.
    init(_ value: JSONValue, base: AzureRules, at location: String) throws {
        guard case .object(let azure) = value else {
            throw BrokerError("policy: '\(location).azure' must be an object")
        }
        self = base
        for (name, item) in azure {
            switch name {
            case "pcrs":
                guard case .object(let entries) = item else {
                    throw BrokerError("policy: '\(location).azure.pcrs' must be an object of PCR index to a list")
                }
                for (key, list) in entries {
                    guard let index = Int(key), (0..<24).contains(index), String(index) == key else {
                        throw BrokerError("policy: '\(location).azure.pcrs.\(key)': PCR indices are 0-23")
                    }
                    let values = try AppraisalPolicy.hexList(list, at: "\(location).azure.pcrs.\(key)")
                    guard values.allSatisfy({ $0.utf8.count == 64 }) else {
                        throw BrokerError("policy: '\(location).azure.pcrs.\(key)' values must be 32 bytes (SHA-256)")
                    }
                    pcrs[index] = values
                }
            case "min_evidence_version":
                guard let version = item.uint64Value, version <= 2 else {
                    throw BrokerError("policy: '\(location).azure.min_evidence_version' must be 0, 1 or 2")
                }
                minimumEvidenceVersion = Int(version)
            default: throw BrokerError("policy: unknown key '\(location).azure.\(name)'")
            }
        }
    }
}

extension AppraisalPolicy.Rules {
    /// The failing rules for Azure vTPM evidence recorded in a token (empty = allowed): the hardware
    /// report by the `snp` / `tdx` rules, the PCRs by the `azure` rules. Fails closed on anything unreadable.
    func appraise(azure tee: String, evidence: JSONValue?) -> [String] {
        let hardwareKey = tee == "az-snp-vtpm" ? "snp" : "tdx"
        let rawKey = tee == "az-snp-vtpm" ? "raw_report" : "raw_quote"
        guard let text = evidence?[hardwareKey]?[rawKey]?.stringValue, let raw = Base64.decode(text) else {
            return ["unreadable evidence: the token has no base64 \(hardwareKey).\(rawKey)"]
        }
        var failures: [String]
        do {
            failures =
                tee == "az-snp-vtpm"
                ? appraise(snp: try SNPReport(parsing: raw)) : appraise(tdx: try TDXQuote(parsing: raw))
        } catch {
            return ["unreadable evidence: \(hardwareKey).\(rawKey) does not parse: \(error)"]
        }
        guard let values = evidence?["azure"]?["pcrs"]?.arrayValue?.compactMap(\.stringValue), values.count == 24 else {
            return failures + ["unreadable evidence: the token has no 24 azure.pcrs"]
        }
        guard let version = evidence?["azure"]?["evidence_version"]?.uint64Value else {
            return failures + ["unreadable evidence: the token has no azure.evidence_version"]
        }
        if version < azure.minimumEvidenceVersion {
            failures.append("azure.min_evidence_version: evidence v\(version) < v\(azure.minimumEvidenceVersion)")
        }
        for (index, allowed) in azure.pcrs.sorted(by: { $0.key < $1.key }) where !allowed.isEmpty {
            if !allowed.contains(values[index]) {
                failures.append("azure.pcrs.\(index): \(values[index]) is not in the allowlist")
            }
        }
        return failures
    }
}
