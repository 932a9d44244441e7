// SPDX-License-Identifier: Apache-2.0
// CRL checks shared by the SNP chain (AMD KDS CRLs) and the TDX PCK chain (Intel PCS CRLs).

import AgentBase
import Cryptography

/// Each CRL whose issuer is in the chain: its signature by that issuer, its freshness at the verification
/// time, and that no certificate of the chain it issued is listed. CRLs of other issuers are not applicable.
public struct RevocationCheck<Input: ChainEvidence>: VerificationCheck {
    /// The message for a CRL past its nextUpdate, given the issuer's name and the nextUpdate (where to
    /// fetch a current CRL differs between AMD and Intel).
    let expired: @Sendable (_ issuerName: String, _ nextUpdate: Timestamp) -> String

    public init(expired: @escaping @Sendable (_ issuerName: String, _ nextUpdate: Timestamp) -> String) {
        self.expired = expired
    }

    public func evaluate(_ input: Input) -> CheckResult {
        guard let chain = input.resolvedChain else { return CheckResult() }
        var result = CheckResult()
        for crl in input.revocationLists {
            guard let issuer = chain.first(where: { $0.subject == crl.issuer }) else { continue }
            let name =
                issuer.subject.split(separator: ",").first { $0.hasPrefix("CN=") }.map(String.init) ?? issuer.subject
            guard crl.isSignature(issuedBy: issuer) else {
                result.fail(
                    .crlSignatureMismatch, "crl signature: the CRL of '\(name)' does not verify with its certificate")
                continue
            }
            let revoked = chain.filter { $0 !== issuer && $0.issuer == crl.issuer && crl.isRevoked($0) }
            for certificate in revoked {
                result.fail(.revoked, "revoked: '\(certificate.subject)' is listed in the CRL of '\(name)'")
            }
            if let nextUpdate = crl.nextUpdate, nextUpdate < input.time {
                result.fail(.crlExpired, expired(name, nextUpdate))
            } else if revoked.isEmpty {
                result.passed.append("not revoked (CRL of '\(name)')")
            }
        }
        return result
    }
}
