// SPDX-License-Identifier: Apache-2.0
// The appraisal policy: reference values per resource repository (or global), each rule named on denial.

import AgentBase
import CanonicalJSON
import Foundation
import KBSProtocol
import TEEEvidence

/// Reference values a TEE's evidence must match. Empty lists mean "no constraint".
///
/// ```json
/// {
///   "default": { "allow_debug": false, "max_vmpl": 0 },
///   "repositories": {
///     "default": {
///       "snp": { "measurements": ["<hex>"], "host_data": ["<hex>"],
///                "min_tcb": { "bootloader": 10, "tee": 0, "snp": 23, "microcode": 84 } },
///       "tdx": { "mr_td": ["<hex>"], "rtmr0": ["<hex>"], "forbid_attributes": "<hex mask>" }
///     }
///   }
/// }
/// ```
public struct AppraisalPolicy: Sendable, Equatable {
    public struct Rules: Sendable, Equatable {
        public var allowDebug = false
        public var maxVMPL: UInt32 = 0
        /// The `snp` object (SNP/AppraisalPolicy+SNP.swift).
        public var snp = SNPRules()
        /// The `tdx` object (TDX/AppraisalPolicy+TDX.swift).
        public var tdx = TDXRules()
        /// The `azure` object (Azure/AppraisalPolicy+Azure.swift).
        public var azure = AzureRules()

        public init() {}
    }

    public var global: Rules
    public var repositories: [String: Rules]

    public init(global: Rules = Rules(), repositories: [String: Rules] = [:]) {
        self.global = global
        self.repositories = repositories
    }

    /// The rules for a resource: its repository's, else the global ones.
    public func rules(for resource: ResourcePath?) -> Rules {
        resource.flatMap { repositories[$0.repository] } ?? global
    }

    /// Loads a policy file; every unknown key is an error (a typo must not silently allow).
    public init(contentsOf path: String) throws {
        let json: JSONValue
        do {
            json = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        } catch {
            throw BrokerError("failed to read policy '\(path)': \(error)")
        }
        guard case .object(let top) = json else {
            throw BrokerError("policy '\(path)': the top level must be an object")
        }
        var global = Rules()
        var repositories: [String: Rules] = [:]
        for (key, value) in top {
            switch key {
            case "default": global = try AppraisalPolicy.rules(value, base: Rules(), at: "default")
            case "repositories":
                guard case .object(let members) = value else {
                    throw BrokerError("policy: 'repositories' must be an object")
                }
                for (name, rules) in members {
                    repositories[name] = try AppraisalPolicy.rules(rules, base: global, at: name)
                }
            default: throw BrokerError("policy '\(path)': unknown key '\(key)'")
            }
        }
        self.init(global: global, repositories: repositories)
    }

    private static func rules(_ value: JSONValue, base: Rules, at location: String) throws -> Rules {
        guard case .object(let members) = value else { throw BrokerError("policy: '\(location)' must be an object") }
        var rules = base
        for (key, value) in members {
            switch key {
            case "allow_debug":
                guard case .bool(let flag) = value else {
                    throw BrokerError("policy: '\(location).allow_debug' must be a boolean")
                }
                rules.allowDebug = flag
            case "max_vmpl":
                guard let vmpl = value.uint64Value, vmpl <= 3 else {
                    throw BrokerError("policy: '\(location).max_vmpl' must be 0-3")
                }
                rules.maxVMPL = UInt32(vmpl)
            case "snp": rules.snp = try SNPRules(value, base: rules.snp, at: location)
            case "tdx": rules.tdx = try TDXRules(value, base: rules.tdx, at: location)
            case "azure": rules.azure = try AzureRules(value, base: rules.azure, at: location)
            default: throw BrokerError("policy: unknown key '\(location).\(key)'")
            }
        }
        return rules
    }
}

extension AppraisalPolicy.Rules {
    /// The failing rules for the evidence a token carries (`tee` and the annotated evidence /attest recorded
    /// in it), each naming the rule; empty = allowed. Fails closed: evidence that cannot be read (an unknown
    /// TEE, no raw report or quote, one that is not base64 or does not parse) is a failure of the rule
    /// `unreadable evidence`, never "no constraint violated". Sample evidence (no hardware report) is
    /// allowed only when the broker accepts it.
    public func appraise(tee: String?, evidence: JSONValue?, allowSample: Bool) -> [String] {
        func raw(_ field: String, of tee: String) -> Result<[UInt8], AppraisalFailure> {
            guard let text = evidence?[tee]?[field]?.stringValue else {
                return .failure(AppraisalFailure("unreadable evidence: the token has no \(tee).\(field)"))
            }
            guard let bytes = Base64.decode(text) else {
                return .failure(AppraisalFailure("unreadable evidence: \(tee).\(field) is not base64"))
            }
            return .success(bytes)
        }
        switch tee {
        case "snp":
            do {
                return appraise(snp: try SNPReport(parsing: raw("raw_report", of: "snp").get()))
            } catch let failure as AppraisalFailure {
                return [failure.rule]
            } catch {
                return ["unreadable evidence: snp.raw_report does not parse: \(error)"]
            }
        case "tdx":
            do {
                return appraise(tdx: try TDXQuote(parsing: raw("raw_quote", of: "tdx").get()), claims: evidence?["tdx"])
            } catch let failure as AppraisalFailure {
                return [failure.rule]
            } catch {
                return ["unreadable evidence: tdx.raw_quote does not parse: \(error)"]
            }
        case "az-snp-vtpm", "az-tdx-vtpm": return appraise(azure: tee ?? "", evidence: evidence)
        case "sample":
            return allowSample ? [] : ["sample evidence: not accepted by this broker (start it with --allow-sample)"]
        case let tee?:
            return ["unreadable evidence: TEE '\(tee)' is not one this broker appraises"]
        case nil:
            return ["unreadable evidence: the token names no TEE"]
        }
    }
}

/// Evidence the appraisal cannot read, as the rule that denies it.
struct AppraisalFailure: Error {
    var rule: String
    init(_ rule: String) { self.rule = rule }
}

extension AppraisalPolicy {
    /// A list of hex strings at `location.key`, lowercased.
    static func hexList(_ value: JSONValue, at location: String) throws -> [String] {
        guard let array = value.arrayValue else { throw BrokerError("policy: '\(location)' must be a list") }
        return try array.map {
            guard let text = $0.stringValue, Hex.decode(text) != nil else {
                throw BrokerError("policy: '\(location)' holds a value that is not hex")
            }
            return text.lowercased()
        }
    }
}
