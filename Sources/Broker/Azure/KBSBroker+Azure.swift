// SPDX-License-Identifier: Apache-2.0
// /attest for Azure vTPM evidence (az-snp-vtpm, az-tdx-vtpm): the quote, the HCL bindings, the hardware report.

import AgentBase
import CanonicalJSON
import Cryptography
import EvidenceVerification
import Foundation
import KBSProtocol
import TEEEvidence

extension KBSBroker {
    /// Verifies Azure vTPM evidence for the session's `tee`; its claims for the token, or why not.
    ///
    /// `expected` is the runtime-data digest itself (SHA-384, 48 bytes), not zero-padded: Trustee passes
    /// it so to these verifiers, the attestation agent puts it in the TPM quote's qualifying data and
    /// (evidence v2) writes it into the HCL user data, and the HCL report's variable data, hashed into
    /// REPORT_DATA, carries it into the hardware report.
    func verifyAzure(
        _ evidence: JSONValue, tee name: String, expectedReportData expected: [UInt8], at time: Timestamp = .now
    ) -> Verdict {
        guard let tee = AzureEvidence.TEE(rawValue: name) else { return .failure("TEE '\(name)' is not Azure's") }
        let parsed: AzureEvidence
        do {
            parsed = try AzureEvidence(json: evidence, tee: tee)
        } catch {
            return .failure("\(name) evidence: \(error)")
        }
        let result = AzureVerifier.verify(
            evidence: parsed, expectedReportData: expected, certificates: configuration.certificates,
            extraRoots: configuration.trustedSimulatorRoots, collateral: configuration.tdxCollateral, at: time)
        guard result.trusted else {
            return .failure("\(name) evidence not trusted: " + result.failures.joined(separator: "; "))
        }
        let pcrs = parsed.tpmQuote.pcrs.map { Hex.encode($0) }
        var claims: [(String, JSONValue)] = []
        switch (parsed.hclReport.hardwareReport, parsed.tdQuote) {
        case (.snp(let report), _):
            claims.append(
                (
                    "snp",
                    KBSBroker.claims(snp: report)
                ))
        case (.tdx(_), let quote?):
            claims.append(
                (
                    "tdx",
                    .object([
                        ("mr_td", .string(Hex.encode(quote.body.mrTD))),
                        ("td_attributes", .string(Hex.encode(quote.body.tdAttributes))),
                        ("raw_quote", .string(Base64.encode(quote.rawBytes))),
                    ])
                ))
        case (.tdx(_), nil):
            return .failure("\(name) evidence: no TD quote")
        }
        claims += [
            (
                "azure",
                .object([
                    ("evidence_version", .integer(parsed.version)), ("pcrs", .array(pcrs.map { .string($0) })),
                ])
            ),
            // Trustee's claim shape for these TEEs: "tpm": {"pcr00": "<hex>", …}.
            (
                "tpm",
                .object(
                    pcrs.enumerated().map { index, value in
                        ("pcr" + (index < 10 ? "0" : "") + String(index), .string(value))
                    })
            ),
            ("report_data", .string(Hex.encode(expected))),
        ]
        return .success(.object(claims))
    }
}
