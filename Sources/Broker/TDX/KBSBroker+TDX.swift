// SPDX-License-Identifier: Apache-2.0
// /attest for TDX evidence: the quote, its binding, its chain, and the claims recorded in the token.

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
        do {
            quote = try TDXQuote(parsing: EvidenceJSON.parseTDX(evidence).quote)
        } catch {
            return .failure("\(error)")
        }
        guard quote.body.reportData == expected else {
            return .failure("REPORTDATA does not bind the runtime data")
        }
        let result = TDXVerifier.verify(
            quote: quote, extraRoots: configuration.trustedSimulatorRoots, collateral: configuration.tdxCollateral,
            at: Date())
        guard result.trusted else {
            return .failure("TDX evidence not trusted: " + result.failures.joined(separator: "; "))
        }
        return .success(
            .object([
                (
                    "tdx",
                    .object([
                        ("mr_td", .string(Hex.encode(quote.body.mrTD))),
                        ("td_attributes", .string(Hex.encode(quote.body.tdAttributes))),
                        ("raw_quote", .string(Base64.encode(quote.rawBytes))),
                    ])
                ),
                ("report_data", .string(Hex.encode(expected))),
            ]))
    }
}
