// SPDX-License-Identifier: Apache-2.0
// /attest for TDX evidence: the quote, its binding, its chain, its event log, and the claims recorded in the token.

import AgentBase
import CanonicalJSON
import Cryptography
import EvidenceVerification
import Foundation
import KBSProtocol
import TEEEvidence

extension KBSBroker {
    /// Verifies TDX evidence whose REPORTDATA must equal `expected`; its claims for the token, or why not.
    func verifyTDX(_ evidence: JSONValue, expectedReportData expected: [UInt8]) -> Verdict {
        let quote: TDXQuote
        let eventLog: [UInt8]?
        do {
            let parsed = try EvidenceJSON.parseTDX(evidence)
            quote = try TDXQuote(parsing: parsed.quote)
            eventLog = parsed.eventLog
        } catch {
            return .failure("\(error)")
        }
        guard quote.body.reportData == expected else {
            return .failure("REPORTDATA does not bind the runtime data")
        }
        let result = TDXVerifier.verify(
            quote: quote, extraRoots: configuration.trustedSimulatorRoots, collateral: configuration.tdxCollateral,
            at: .now)
        guard result.trusted else {
            return .failure("TDX evidence not trusted: " + result.failures.joined(separator: "; "))
        }
        var tdx: [(String, JSONValue)] = [
            ("mr_td", .string(Hex.encode(quote.body.mrTD))),
            ("td_attributes", .string(Hex.encode(quote.body.tdAttributes))),
            ("raw_quote", .string(Base64.encode(quote.rawBytes))),
        ]
        // An empty cc_eventlog is no log, as Trustee reads it.
        if let eventLog, !eventLog.isEmpty {
            switch TDXEventLogVerdict(eventLog, quote: quote) {
            case .refused(let rule): return .failure(rule)
            case .replayed(let claims): tdx += claims
            }
        }
        return .success(.object([("tdx", .object(tdx)), ("report_data", .string(Hex.encode(expected)))]))
    }
}

/// The broker's reading of `cc_eventlog`: it must parse, replay to exactly RTMR0–3 of the (verified)
/// quote, and each runtime (AAEL) event must match its digest. Then its claims, Trustee-style:
/// `ccel` {`kernel`, `initrd`, `cmdline`} (the digests of the events TDVF records, those found) and
/// `aael` {"<domain>/<operation>": [content…]} (the runtime events), plus `rtmr0`–`rtmr3`.
enum TDXEventLogVerdict {
    case replayed([(String, JSONValue)])
    case refused(String)

    init(_ bytes: [UInt8], quote: TDXQuote) {
        let log: CCELEventLog
        do {
            log = try CCELEventLog(parsing: bytes)
        } catch {
            self = .refused("tdx.event_log.unreadable: cc_eventlog is not a TCG2 event log: \(error)")
            return
        }
        let replay = TDXEventLogCheck(log: log).evaluate(quote)
        guard replay.failures.isEmpty else {
            self = .refused("tdx.event_log.replay: " + replay.failures.map(\.message).joined(separator: "; "))
            return
        }
        let runtime = TDXRuntimeEventCheck().evaluate(log)
        guard runtime.failures.isEmpty else {
            self = .refused("tdx.event_log.runtime: " + runtime.failures.map(\.message).joined(separator: "; "))
            return
        }
        let boot = TDXBootDigests(log)
        var ccel: [(String, JSONValue)] = []
        if let kernel = boot.kernel { ccel.append(("kernel", .string(Hex.encode(kernel)))) }
        if let initrd = boot.initrd { ccel.append(("initrd", .string(Hex.encode(initrd)))) }
        if let cmdline = boot.cmdline { ccel.append(("cmdline", .string(Hex.encode(cmdline)))) }
        var aael: [(String, [JSONValue])] = []
        for event in log.events.compactMap(RuntimeEvent.init) {
            let key = "\(event.domain)/\(event.operation)"
            if let index = aael.firstIndex(where: { $0.0 == key }) {
                aael[index].1.append(.string(event.content))
            } else {
                aael.append((key, [.string(event.content)]))
            }
        }
        var claims: [(String, JSONValue)] = [
            ("ccel", .object(ccel)), ("aael", .object(aael.map { ($0.0, .array($0.1)) })),
        ]
        claims += (0..<4).map { ("rtmr\($0)", .string(Hex.encode(quote.body.rtmr[$0]))) }
        self = .replayed(claims)
    }
}
