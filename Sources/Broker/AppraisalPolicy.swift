// SPDX-License-Identifier: Apache-2.0
// The appraisal policy: reference values per resource repository (or global), each rule named on denial.

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
        public var snpMeasurements: [String] = []
        public var snpHostData: [String] = []
        public var snpMinimumTCB: [String: UInt8] = [:]
        public var tdxMRTD: [String] = []
        public var tdxRTMR: [[String]] = [[], [], [], []]
        /// TD attribute bits that must be clear (besides DEBUG when debug is not allowed).
        public var tdxForbiddenAttributes: UInt64 = 0

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
        func strings(_ value: JSONValue, _ key: String) throws -> [String] {
            guard let array = value.arrayValue else { throw BrokerError("policy: '\(location).\(key)' must be a list") }
            return try array.map {
                guard let text = $0.stringValue, HexString.decode(text) != nil else {
                    throw BrokerError("policy: '\(location).\(key)' holds a value that is not hex")
                }
                return text.lowercased()
            }
        }
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
            case "snp":
                guard case .object(let snp) = value else {
                    throw BrokerError("policy: '\(location).snp' must be an object")
                }
                for (name, item) in snp {
                    switch name {
                    case "measurements": rules.snpMeasurements = try strings(item, "snp.measurements")
                    case "host_data": rules.snpHostData = try strings(item, "snp.host_data")
                    case "min_tcb":
                        guard case .object(let components) = item else {
                            throw BrokerError("policy: 'min_tcb' must be an object")
                        }
                        for (component, level) in components {
                            guard ["bootloader", "tee", "snp", "microcode", "fmc"].contains(component),
                                let byte = level.byteValue
                            else {
                                throw BrokerError(
                                    "policy: min_tcb.\(component) is not a known component with a 0-255 value")
                            }
                            rules.snpMinimumTCB[component] = byte
                        }
                    default: throw BrokerError("policy: unknown key '\(location).snp.\(name)'")
                    }
                }
            case "tdx":
                guard case .object(let tdx) = value else {
                    throw BrokerError("policy: '\(location).tdx' must be an object")
                }
                for (name, item) in tdx {
                    switch name {
                    case "mr_td": rules.tdxMRTD = try strings(item, "tdx.mr_td")
                    case "rtmr0", "rtmr1", "rtmr2", "rtmr3":
                        rules.tdxRTMR[Int(String(name.last ?? "0")) ?? 0] = try strings(item, "tdx.\(name)")
                    case "forbid_attributes":
                        guard let text = item.stringValue, let mask = UInt64(text, radix: 16) else {
                            throw BrokerError("policy: 'tdx.forbid_attributes' must be a hex string")
                        }
                        rules.tdxForbiddenAttributes = mask
                    default: throw BrokerError("policy: unknown key '\(location).tdx.\(name)'")
                    }
                }
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
                return appraise(tdx: try TDXQuote(parsing: raw("raw_quote", of: "tdx").get()))
            } catch let failure as AppraisalFailure {
                return [failure.rule]
            } catch {
                return ["unreadable evidence: tdx.raw_quote does not parse: \(error)"]
            }
        case "sample":
            return allowSample ? [] : ["sample evidence: not accepted by this broker (start it with --allow-sample)"]
        case let tee?:
            return ["unreadable evidence: TEE '\(tee)' is not one this broker appraises"]
        case nil:
            return ["unreadable evidence: the token names no TEE"]
        }
    }

    /// The failing rules for an SNP report (empty = allowed).
    public func appraise(snp report: SNPReport) -> [String] {
        var failures: [String] = []
        if report.policy.debugAllowed && !allowDebug {
            failures.append("debug forbidden: the guest policy allows debugging")
        }
        if report.vmpl > maxVMPL { failures.append("max_vmpl: report VMPL \(report.vmpl) > \(maxVMPL)") }
        let measurement = HexString.encode(report.measurement)
        if !snpMeasurements.isEmpty && !snpMeasurements.contains(measurement) {
            failures.append("snp.measurements: \(measurement) is not in the allowlist")
        }
        let hostData = HexString.encode(report.hostData)
        if !snpHostData.isEmpty && !snpHostData.contains(hostData) {
            failures.append("snp.host_data: \(hostData) is not in the allowlist")
        }
        for (component, minimum) in snpMinimumTCB.sorted(by: { $0.key < $1.key }) {
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

/// Evidence the appraisal cannot read, as the rule that denies it.
private struct AppraisalFailure: Error {
    var rule: String
    init(_ rule: String) { self.rule = rule }
}

extension AppraisalPolicy.Rules {
    /// The failing rules for a TDX quote (empty = allowed).
    public func appraise(tdx quote: TDXQuote) -> [String] {
        var failures: [String] = []
        if quote.body.debug && !allowDebug { failures.append("debug forbidden: the TD is debuggable") }
        let mrTD = HexString.encode(quote.body.mrTD)
        if !tdxMRTD.isEmpty && !tdxMRTD.contains(mrTD) { failures.append("tdx.mr_td: \(mrTD) is not in the allowlist") }
        for index in 0..<4 where !tdxRTMR[index].isEmpty {
            let value = HexString.encode(quote.body.rtmr[index])
            if !tdxRTMR[index].contains(value) { failures.append("tdx.rtmr\(index): \(value) is not in the allowlist") }
        }
        let attributes = quote.body.tdAttributes.enumerated().reduce(UInt64(0)) {
            $0 | UInt64($1.element) << (8 * $1.offset)
        }
        if attributes & tdxForbiddenAttributes != 0 {
            failures.append("tdx.forbid_attributes: attributes 0x\(String(attributes, radix: 16)) set forbidden bits")
        }
        return failures
    }
}
