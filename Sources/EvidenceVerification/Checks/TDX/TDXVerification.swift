// SPDX-License-Identifier: Apache-2.0
// The input of the TDX chain checks: the quote with its PCK chain read and its root found.

import AgentBase
import Cryptography
import TEEEvidence

/// A TDX quote with the PCK certificate chain of its certification data, the chain's self-signed root
/// when it has one, and the collateral when given.
public struct TDXVerification: ChainEvidence {
    public let quote: TDXQuote
    /// The certificates of the quote's PCK chain, PCK first.
    public let chain: [Certificate]
    /// The PCK certificate (the first of the chain).
    public let pck: Certificate
    /// The first self-signed certificate of the chain and `extraRoots`.
    public let root: Certificate?
    /// Roots trusted besides the Intel SGX Root CA (e.g. the simulator's).
    public let extraRoots: [Certificate]
    public let collateral: TDXCollateral?
    public let time: Timestamp

    /// Reads the PCK chain of the quote's certification data (PEM, NUL-padded). Throws when it holds no
    /// readable certificate: no chain check can run then.
    public init(
        quote: TDXQuote, extraRoots: [Certificate] = [], collateral: TDXCollateral? = nil, at time: Timestamp
    ) throws(VerificationFailure) {
        var chainBytes = quote.pckChain
        while chainBytes.last == 0 { chainBytes.removeLast() }
        guard let chain = try? Certificate.parse(pemOrDER: chainBytes), let pck = chain.first else {
            throw VerificationFailure(
                .unreadablePCKChain,
                "pck chain: the quote's certification data holds no readable PCK certificate chain")
        }
        self.quote = quote
        self.chain = chain
        self.pck = pck
        self.root = (chain + extraRoots).first { $0.isSignature(issuedBy: $0) }
        self.extraRoots = extraRoots
        self.collateral = collateral
        self.time = time
    }

    /// The quote's chain, and the root when it was passed explicitly rather than carried in the quote;
    /// nil when there is no root (the chain check reports that).
    public var resolvedChain: [Certificate]? {
        guard let root else { return nil }
        return chain.contains { $0 === root } ? chain : chain + [root]
    }

    /// The collateral's CRLs (PCK Platform/Processor CA, Root CA).
    public var revocationLists: [CertificateRevocationList] { collateral?.revocationLists ?? [] }

    /// How the root is trusted.
    public enum Anchor: Sendable, Equatable {
        /// The Intel SGX Root CA (pinned by SPKI fingerprint in ``TrustAnchors/intelSGXRootCA``).
        case intel
        /// A root passed explicitly (`extraRoots`).
        case explicit
        /// Neither: the root's SPKI SHA-256.
        case untrusted(fingerprint: String)
    }

    /// How the root is trusted; nil when the chain has no root.
    public var anchor: Anchor? {
        guard let root else { return nil }
        let fingerprint = Hex.encode(root.spkiSHA256)
        if fingerprint == TrustAnchors.intelSGXRootCA { return .intel }
        if extraRoots.contains(where: { Hex.encode($0.spkiSHA256) == fingerprint }) { return .explicit }
        return .untrusted(fingerprint: fingerprint)
    }
}
