// SPDX-License-Identifier: Apache-2.0
// CRL checks shared by the SNP chain (AMD KDS CRLs) and the TDX PCK chain (Intel PCS CRLs).

import Cryptography
import FoundationEssentials

enum RevocationCheck {
    /// Each CRL whose issuer is in `chain`: its signature by that issuer, its freshness at `time`, and
    /// that no certificate of the chain it issued is listed. CRLs of other issuers are not applicable.
    static func check(
        chain: [Certificate], revocationLists: [CertificateRevocationList], at time: Date,
        expired: (_ issuerName: String, _ nextUpdate: Date) -> String
    ) -> (failures: [String], passed: [String]) {
        var failures: [String] = []
        var passed: [String] = []
        for crl in revocationLists {
            guard let issuer = chain.first(where: { $0.subject == crl.issuer }) else { continue }
            let name =
                issuer.subject.split(separator: ",").first { $0.hasPrefix("CN=") }.map(String.init) ?? issuer.subject
            guard crl.isSignature(issuedBy: issuer) else {
                failures.append("crl signature: the CRL of '\(name)' does not verify with its certificate")
                continue
            }
            let revoked = chain.filter { $0 !== issuer && $0.issuer == crl.issuer && crl.isRevoked($0) }
            for certificate in revoked {
                failures.append("revoked: '\(certificate.subject)' is listed in the CRL of '\(name)'")
            }
            if let nextUpdate = crl.nextUpdate, nextUpdate < time {
                failures.append(expired(name, nextUpdate))
            } else if revoked.isEmpty {
                passed.append("not revoked (CRL of '\(name)')")
            }
        }
        return (failures, passed)
    }
}
