// SPDX-License-Identifier: Apache-2.0
// What the shared certificate checks (validity, revocation) need from SNP and TDX inputs.

import AgentBase
import Cryptography

/// An input whose certificate chain, from the signing key to a root, has been resolved.
public protocol ChainEvidence: Sendable {
    /// The chain, leaf first, when it reaches a root; nil otherwise (the chain check reports that, and the
    /// checks of a chain's certificates do not apply).
    var resolvedChain: [Certificate]? { get }
    /// CRLs that apply when their issuer is in the chain.
    var revocationLists: [CertificateRevocationList] { get }
    /// The time certificates and CRLs are checked at.
    var time: Timestamp { get }
}
