// SPDX-License-Identifier: Apache-2.0
// The checks of a TDX quote's PCK chain: the QE report signed by the PCK, the PCK chained to a trusted root.

import Cryptography
import TEEEvidence

/// The QE report's ECDSA P-256 signature verifies with the PCK certificate.
public struct TDXQEReportSignatureCheck: VerificationCheck {
    public init() {}

    public func evaluate(_ input: TDXVerification) -> CheckResult {
        let signature = input.quote.qeReportSignature
        guard signature.count == 64,
            input.pck.publicKey.verifyECDSA(
                .sha256, r: Array(signature[0..<32]), s: Array(signature[32..<64]), data: input.quote.qeReport.raw)
        else {
            return .fail(
                .qeReportSignatureMismatch,
                "qe report signature: does not verify with the PCK certificate '\(input.pck.subject)'")
        }
        return .pass("QE report signature by the PCK")
    }
}

/// The chain has a self-signed root that is the Intel SGX Root CA or was passed explicitly, and each
/// certificate from the PCK up to that root is signed by the next (no certificate used twice).
public struct TDXChainCheck: VerificationCheck {
    public init() {}

    public func evaluate(_ input: TDXVerification) -> CheckResult {
        guard let root = input.root, let anchor = input.anchor else {
            return .fail(.missingRoot, "pck chain: no self-signed root certificate in the chain")
        }
        var result = CheckResult()
        switch anchor {
        case .intel:
            result.passed.append("pck chain to the Intel SGX Root CA")
        case .explicit:
            result.passed.append("pck chain to an explicitly trusted root '\(root.subject)'")
        case .untrusted(let fingerprint):
            result.fail(
                .untrustedRoot,
                "root: '\(root.subject)' is not the Intel SGX Root CA (SPKI SHA-256 \(fingerprint)); "
                    + "pass --trust-root only for roots you trust, such as the simulator's")
        }
        // Walk PCK → root by signatures, never through a certificate twice: a path that does not end at
        // the root (a loop of certificates signing each other) is broken.
        let pool = input.chain + input.extraRoots
        var current = input.pck
        var visited = [current]
        while current !== root {
            let next = pool.first { candidate in
                !visited.contains { $0 === candidate } && current.isSignature(issuedBy: candidate)
            }
            guard let next else {
                result.fail(.brokenChain, "pck chain: no certificate signed '\(current.subject)'")
                break
            }
            visited.append(next)
            current = next
        }
        return result
    }
}
