// SPDX-License-Identifier: Apache-2.0
// Verifies a TDX quote: quote signature, QE report binding and signature, PCK chain to the Intel root.

import AgentBase
import Cryptography
import TEEEvidence

/// Verifies TDX quotes (v4/v5) by running ``quoteChecks`` on the quote, then ``chainChecks`` on the quote
/// with its PCK chain (``TDXVerification``):
///
/// 1. ``TDXQuoteSignatureCheck``: ECDSA P-256 over header‖body with the attestation key.
/// 2. ``TDXQEReportBindingCheck``: QE REPORTDATA = SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes.
/// 3. ``TDXQEReportSignatureCheck``: the QE report's ECDSA P-256 signature by the PCK leaf.
/// 4. ``TDXChainCheck``: PCK leaf → intermediate → root, the root pinned (Intel SGX Root CA) or passed
///    explicitly (`extraRoots`, e.g. the simulator's); ``CertificateValidityCheck``: each valid at `time`.
/// 5. With collateral: ``RevocationCheck`` (its CRLs) and ``TDXCollateralCheck`` (its signatures and the
///    TCB status, see ``TDXCollateral``).
public enum TDXVerifier {
    /// The checks of the quote itself, which need no certificate.
    @VerificationChecks<TDXQuote>
    public static var quoteChecks: [any VerificationCheck<TDXQuote>] {
        TDXQuoteSignatureCheck()
        TDXQEReportBindingCheck()
    }

    /// The checks of the quote's PCK chain and collateral, run when the chain is readable.
    @VerificationChecks<TDXVerification>
    public static var chainChecks: [any VerificationCheck<TDXVerification>] {
        TDXQEReportSignatureCheck()
        TDXChainCheck()
        CertificateValidityCheck<TDXVerification>()
        RevocationCheck<TDXVerification> { name, date in
            "collateral: the CRL of '\(name)' expired at \(date) (refresh it from Intel PCS)"
        }
        TDXCollateralCheck()
    }

    public static func verify(
        quote: TDXQuote, extraRoots: [Certificate] = [], collateral: TDXCollateral? = nil, at time: Timestamp,
        quoteChecks: [any VerificationCheck<TDXQuote>] = TDXVerifier.quoteChecks,
        chainChecks: [any VerificationCheck<TDXVerification>] = TDXVerifier.chainChecks
    ) -> VerificationResult {
        var summary = quote.summary()
        var result = quoteChecks.evaluate(quote)
        do {
            let input = try TDXVerification(quote: quote, extraRoots: extraRoots, collateral: collateral, at: time)
            if input.anchor == .explicit, let root = input.root {
                summary.simulated = root.subject.containsText("SIMULATED")
            }
            result += chainChecks.evaluate(input)
        } catch {
            result.failures.append(error)
        }
        return VerificationResult(result, summary: .tdx(summary))
    }

    /// Replays a CCEL event log: RTMR[i] = SHA-384(RTMR[i] ‖ digest) for events with MR index 1…4.
    public static func replay(_ log: CCELEventLog) -> [[UInt8]] {
        var registers = [[UInt8]](repeating: [UInt8](repeating: 0, count: 48), count: 4)
        for event in log.events where (1...4).contains(event.mrIndex) {
            guard let digest = event.sha384 else { continue }
            let index = Int(event.mrIndex) - 1
            registers[index] = DigestAlgorithm.sha384.hash(registers[index] + digest)
        }
        return registers
    }
}
