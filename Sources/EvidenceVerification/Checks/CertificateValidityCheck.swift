// SPDX-License-Identifier: Apache-2.0
// Every certificate of the resolved chain is valid at the verification time.

import AgentBase
import Cryptography

/// Each certificate of the chain, leaf to root, is valid at the verification time (the corpus holds
/// expired certificates: the time is a parameter, never the clock).
public struct CertificateValidityCheck<Input: ChainEvidence>: VerificationCheck {
    public init() {}

    public func evaluate(_ input: Input) -> CheckResult {
        var result = CheckResult()
        for certificate in input.resolvedChain ?? [] where !certificate.isValid(at: input.time) {
            result.fail(
                .certificateNotValid,
                "validity: '\(certificate.subject)' is not valid at \(input.time) "
                    + "(\(certificate.notBefore)…\(certificate.notAfter))")
        }
        return result
    }
}
