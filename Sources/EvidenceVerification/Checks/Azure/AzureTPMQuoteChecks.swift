// SPDX-License-Identifier: Apache-2.0
// The vTPM quote: signed by HCLAkPub, its nonce the expected report data, its PCR digest over PCRs 0-23.

import AgentBase
import Cryptography
import TEEEvidence

/// The TPM quote's message verifies with `HCLAkPub` from the HCL variable data: a raw signature of the
/// modulus size is RSASSA-PKCS1-v1_5 with SHA-256 (what Trustee and the attestation agent use); a
/// marshalled TPMT_SIGNATURE may name RSASSA or RSAPSS (salt = 32 bytes, the TPM's rule), with SHA-256.
public struct AzureQuoteSignatureCheck: VerificationCheck {
    public init() {}

    public func evaluate(_ input: AzureVerification) -> CheckResult {
        let key: PublicKey
        switch input.attestationKey {
        case .failure(let failure): return CheckResult(failures: [failure])
        case .success(let value): key = value
        }
        let quote = input.evidence.tpmQuote
        let modulusSize = (key.rsaComponents?.modulus.drop { $0 == 0 }.count) ?? 0
        let data = quote.message.rawBytes
        let verified: Bool
        let scheme: String
        if quote.signature.count == modulusSize {
            scheme = "RSASSA-PKCS1-v1_5"
            verified = key.verifyRSAPKCS1(.sha256, signature: quote.signature, data: data)
        } else if let signature = try? TPMSignature(parsing: quote.signature),
            signature.hashAlgorithm == TPMQuoteInfo.sha256Algorithm
        {
            switch signature.scheme {
            case .rsassa:
                scheme = "TPMT_SIGNATURE RSASSA"
                verified = key.verifyRSAPKCS1(.sha256, signature: signature.signature, data: data)
            case .rsapss:
                scheme = "TPMT_SIGNATURE RSAPSS"
                verified = key.verifyRSAPSS(.sha256, signature: signature.signature, data: data, saltLength: 32)
            }
        } else {
            return .fail(
                .tpmQuoteSignatureMismatch,
                "tpm quote signature: \(quote.signature.count) bytes are neither an RSA signature of the key's size "
                    + "(\(modulusSize)) nor a TPMT_SIGNATURE with SHA-256")
        }
        guard verified else {
            return .fail(
                .tpmQuoteSignatureMismatch,
                "tpm quote signature: the \(scheme) SHA-256 signature does not verify with HCLAkPub from the HCL report"
            )
        }
        return .pass("tpm quote signature by HCLAkPub")
    }
}

/// The quote's qualifying data (extraData) is exactly the expected report data.
public struct AzureQuoteNonceCheck: VerificationCheck {
    public init() {}

    public func evaluate(_ input: AzureVerification) -> CheckResult {
        let nonce = input.evidence.tpmQuote.message.extraData
        guard nonce == input.expectedReportData else {
            return .fail(
                .tpmNonceMismatch,
                "tpm quote nonce: extraData \(Hex.encode(nonce)) is not the expected report data "
                    + "\(Hex.encode(input.expectedReportData))")
        }
        return .pass("tpm quote nonce")
    }
}

/// The quote selects exactly PCRs 0-23 of the SHA-256 bank, the evidence carries 24 values, and SHA-256 of
/// their concatenation (PCR 0 first) is the quote's pcrDigest. (Trustee hashes whatever values are sent;
/// requiring the full selection also fixes which value is which PCR.)
public struct AzurePCRDigestCheck: VerificationCheck {
    public init() {}

    public func evaluate(_ input: AzureVerification) -> CheckResult {
        let quote = input.evidence.tpmQuote
        let selections = quote.message.pcrSelections
        guard selections.count == 1, let bank = selections.first, bank.hashAlgorithm == TPMQuoteInfo.sha256Algorithm,
            bank.indices == Array(0..<24)
        else {
            let described = selections.map { "alg 0x\(String($0.hashAlgorithm, radix: 16)) \($0.indices)" }
            return .fail(
                .tpmPCRSelectionUnsupported,
                "tpm pcr selection: the quote must select PCRs 0-23 of the SHA-256 bank, it selects \(described)")
        }
        guard quote.pcrs.count == 24 else {
            return .fail(
                .tpmPCRSelectionUnsupported,
                "tpm pcr selection: the evidence carries \(quote.pcrs.count) PCR values, not 24")
        }
        let digest = DigestAlgorithm.sha256.hash(quote.pcrs.flatMap { $0 })
        guard digest == quote.message.pcrDigest else {
            return .fail(
                .tpmPCRDigestMismatch,
                "tpm pcr digest: SHA-256 of the 24 PCR values is \(Hex.encode(digest)), the quote's pcrDigest is "
                    + "\(Hex.encode(quote.message.pcrDigest))")
        }
        return .pass("tpm pcr digest over PCRs 0-23")
    }
}
