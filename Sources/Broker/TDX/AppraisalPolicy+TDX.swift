// SPDX-License-Identifier: Apache-2.0
// The policy's `tdx` object: reference values for TDX quotes, and their appraisal.

import AgentBase
import CanonicalJSON
import TEEEvidence

/// Reference values a TDX quote must match (the policy's `tdx` object). Empty lists mean "no constraint".
public struct TDXRules: Sendable, Equatable {
    public var mrTD: [String] = []
    public var rtmr: [[String]] = [[], [], [], []]
    /// TD attribute bits that must be clear (besides DEBUG when debug is not allowed).
    public var forbiddenAttributes: UInt64 = 0

    public init() {}

    /// Parses `location.tdx` over `base`; unknown keys are errors.
    init(_ value: JSONValue, base: TDXRules, at location: String) throws {
        guard case .object(let tdx) = value else {
            throw BrokerError("policy: '\(location).tdx' must be an object")
        }
        self = base
        for (name, item) in tdx {
            switch name {
            case "mr_td": mrTD = try AppraisalPolicy.hexList(item, at: "\(location).tdx.mr_td")
            case "rtmr0", "rtmr1", "rtmr2", "rtmr3":
                rtmr[Int(String(name.last ?? "0")) ?? 0] = try AppraisalPolicy.hexList(
                    item, at: "\(location).tdx.\(name)")
            case "forbid_attributes":
                guard let text = item.stringValue, let mask = UInt64(text, radix: 16) else {
                    throw BrokerError("policy: 'tdx.forbid_attributes' must be a hex string")
                }
                forbiddenAttributes = mask
            default: throw BrokerError("policy: unknown key '\(location).tdx.\(name)'")
            }
        }
    }
}

extension AppraisalPolicy.Rules {
    /// The failing rules for a TDX quote (empty = allowed).
    public func appraise(tdx quote: TDXQuote) -> [String] {
        var failures: [String] = []
        if quote.body.debug && !allowDebug { failures.append("debug forbidden: the TD is debuggable") }
        let mrTD = Hex.encode(quote.body.mrTD)
        if !tdx.mrTD.isEmpty && !tdx.mrTD.contains(mrTD) {
            failures.append("tdx.mr_td: \(mrTD) is not in the allowlist")
        }
        for index in 0..<4 where !tdx.rtmr[index].isEmpty {
            let value = Hex.encode(quote.body.rtmr[index])
            if !tdx.rtmr[index].contains(value) {
                failures.append("tdx.rtmr\(index): \(value) is not in the allowlist")
            }
        }
        let attributes = quote.body.tdAttributes.enumerated().reduce(UInt64(0)) {
            $0 | UInt64($1.element) << (8 * $1.offset)
        }
        if attributes & tdx.forbiddenAttributes != 0 {
            failures.append("tdx.forbid_attributes: attributes 0x\(String(attributes, radix: 16)) set forbidden bits")
        }
        return failures
    }
}
