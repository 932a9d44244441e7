// SPDX-License-Identifier: Apache-2.0
// The checks of a TDX quote that need no certificate: its signature, and the QE report's binding of its key.

import Cryptography
import TEEEvidence

/// ECDSA P-256 over header‖body with the quote's attestation key.
public struct TDXQuoteSignatureCheck: VerificationCheck {
    public init() {}

    public func evaluate(_ quote: TDXQuote) -> CheckResult {
        let key = quote.attestationKey
        guard key.count == 64, quote.signature.count == 64,
            let attestationKey = try? PublicKey(curve: .p256, x: Array(key[0..<32]), y: Array(key[32..<64])),
            attestationKey.verifyECDSA(
                .sha256, r: Array(quote.signature[0..<32]), s: Array(quote.signature[32..<64]), data: quote.signedBytes)
        else {
            return .fail(.quoteSignatureMismatch, "quote signature: does not verify with the attestation key")
        }
        return .pass("quote signature")
    }
}

/// The QE report's REPORTDATA is SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes: the quoting
/// enclave vouches for the attestation key.
public struct TDXQEReportBindingCheck: VerificationCheck {
    public init() {}

    public func evaluate(_ quote: TDXQuote) -> CheckResult {
        let binding =
            DigestAlgorithm.sha256.hash(quote.attestationKey + quote.qeAuthData) + [UInt8](repeating: 0, count: 32)
        guard quote.qeReport.reportData == binding else {
            return .fail(
                .qeReportDataMismatch, "qe report data: does not bind the attestation key (SHA-256(key ‖ auth data))")
        }
        return .pass("QE report binds the attestation key")
    }
}

/// Replaying the CCEL event log gives exactly RTMR0–3 of the quote.
public struct TDXEventLogCheck: VerificationCheck {
    public let log: CCELEventLog

    public init(log: CCELEventLog) { self.log = log }

    public func evaluate(_ quote: TDXQuote) -> CheckResult {
        let replayed = TDXVerifier.replay(log)
        let mismatched = (0..<4).filter { replayed[$0] != quote.body.rtmr[$0] }
        guard mismatched.isEmpty else {
            return .fail(
                .rtmrMismatch,
                "event log: replaying the CCEL does not give "
                    + mismatched.map { "RTMR\($0)" }.joined(separator: ", ") + " of the quote")
        }
        return .pass("event log replays to RTMR0-3")
    }
}
