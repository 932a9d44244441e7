// SPDX-License-Identifier: Apache-2.0
// The policy's `tdx` object: reference values for TDX quotes and their event logs, and their appraisal.

import AgentBase
import CanonicalJSON
import TEEEvidence

/// Reference values a TDX quote must match (the policy's `tdx` object). Empty lists mean "no constraint".
///
/// `kernel`, `initrd` and `cmdline` constrain the digests of the events TDVF records in the CCEL (see
/// ``TDXBootDigests``), which /attest replayed against the quote's RTMRs and recorded in the token as
/// `tdx.ccel`. A policy that constrains any of them, or sets `require_event_log`, denies evidence that
/// came without an event log (rule `tdx.<key>: the evidence has no event log`).
public struct TDXRules: Sendable, Equatable {
    public var mrTD: [String] = []
    public var rtmr: [[String]] = [[], [], [], []]
    /// TD attribute bits that must be clear (besides DEBUG when debug is not allowed).
    public var forbiddenAttributes: UInt64 = 0
    /// Allowed digests of the kernel, initrd and command-line events (hex, SHA-384).
    public var kernel: [String] = []
    public var initrd: [String] = []
    public var cmdline: [String] = []
    /// Deny evidence without a replayed event log even when no event digest is constrained.
    public var requireEventLog = false

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
            case "kernel": kernel = try Self.digestList(item, at: "\(location).tdx.kernel")
            case "initrd": initrd = try Self.digestList(item, at: "\(location).tdx.initrd")
            case "cmdline": cmdline = try Self.digestList(item, at: "\(location).tdx.cmdline")
            case "require_event_log":
                guard case .bool(let flag) = item else {
                    throw BrokerError("policy: '\(location).tdx.require_event_log' must be a boolean")
                }
                requireEventLog = flag
            default: throw BrokerError("policy: unknown key '\(location).tdx.\(name)'")
            }
        }
    }

    /// A list of SHA-384 digests (96 hex digits each): a shorter value can never match, so it is a typo.
    private static func digestList(_ value: JSONValue, at location: String) throws -> [String] {
        let list = try AppraisalPolicy.hexList(value, at: location)
        guard list.allSatisfy({ $0.count == 96 }) else {
            throw BrokerError("policy: '\(location)' holds a value that is not a SHA-384 digest (96 hex digits)")
        }
        return list
    }

    /// The event-log rules in force, by claim name.
    var eventRules: [(name: String, allowed: [String])] {
        [("kernel", kernel), ("initrd", initrd), ("cmdline", cmdline)].filter { !$0.1.isEmpty }
    }
}

extension AppraisalPolicy.Rules {
    /// The failing rules for a TDX quote and the claims /attest recorded for it (`tdx` of the token:
    /// `ccel` only when the event log was present and replayed); empty = allowed.
    public func appraise(tdx quote: TDXQuote, claims: JSONValue? = nil) -> [String] {
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
        let ccel = claims?["ccel"]
        let noLog = "the evidence has no event log (send cc_eventlog: the CCEL, replayed against the RTMRs at /attest)"
        if tdx.requireEventLog && ccel == nil {
            failures.append("tdx.require_event_log: \(noLog)")
        }
        for rule in tdx.eventRules {
            guard let ccel else {
                failures.append("tdx.\(rule.name): \(noLog)")
                continue
            }
            guard let value = ccel[rule.name]?.stringValue else {
                failures.append("tdx.\(rule.name): the event log records no \(rule.name) event")
                continue
            }
            if !rule.allowed.contains(value.lowercased()) {
                failures.append("tdx.\(rule.name): \(value) is not in the allowlist")
            }
        }
        return failures
    }
}
