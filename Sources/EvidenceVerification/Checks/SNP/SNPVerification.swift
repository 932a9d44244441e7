// SPDX-License-Identifier: Apache-2.0
// The input of the SNP checks: the report with its signing certificate and chain resolved.

import AgentBase
import Cryptography
import TEEEvidence

/// An SNP report with the certificate of the key that signed it (VCEK or VLEK) and the chain above it,
/// as far as the given certificates reach.
public struct SNPVerification: ChainEvidence {
    public let report: SNPReport
    /// `.vcek` or `.vlek` (never `.none`: an unsigned report does not resolve).
    public let signingKey: SNPSigningKey
    /// The VCEK or VLEK.
    public let leaf: Certificate
    /// The ASK or ASVK that signed the leaf, when one was given.
    public let intermediate: Certificate?
    /// The self-signed ARK that signed the intermediate, when one was given.
    public let root: Certificate?
    /// Roots trusted besides AMD's pinned ARKs (e.g. the simulator's).
    public let extraRoots: [Certificate]
    public let revocationLists: [CertificateRevocationList]
    public let time: Timestamp

    /// Whether the chain above the leaf came from the given certificates or from ``AMDCertificates``.
    public let usedShippedCertificates: Bool

    /// Finds the signing certificate among `certificates` (by subject, else by the report's signature)
    /// and the chain above it. Throws when the report is unsigned or no certificate is given for its key:
    /// no other check can run then.
    ///
    /// With `shippedCertificates`, an intermediate or ARK that the given certificates lack is taken from
    /// ``AMDCertificates`` (AMD's published ASK/ASVK and ARK): first those of the report's product (CPUID),
    /// then of the leaf's productName extension, then any product; only one that signed the leaf (or the
    /// intermediate) is taken, and the ARK must still match ``TrustAnchors/amdARK`` (``SNPChainCheck``).
    public init(
        report: SNPReport, certificates: [Certificate], extraRoots: [Certificate] = [],
        revocationLists: [CertificateRevocationList] = [], shippedCertificates: Bool = false, at time: Timestamp
    ) throws(VerificationFailure) {
        let keyKind = report.signingKey
        guard keyKind != .none, !report.chipKeyMasked else {
            throw VerificationFailure(
                .unsignedReport,
                "signing key: the report is not signed (KEY_INFO says no signing key or a masked chip key)")
        }
        let label = keyKind == .vcek ? "VCEK" : "VLEK"
        let leafCandidates = certificates.filter { certificate in
            certificate.publicKey.ecCoordinates?.curve == .p384
        }
        let leaf =
            leafCandidates.first { $0.subject.containsText("SEV-\(label)") }
            ?? leafCandidates.first { candidate in
                let (r, s) = report.signatureBigEndian()
                return candidate.publicKey.verifyECDSA(.sha384, r: r, s: s, data: report.signedBytes)
            }
        guard let leaf else {
            throw VerificationFailure(
                .missingSigningCertificate,
                "\(label.lowercased()): no \(label) certificate given (pass it with --cert, or use an extended report "
                    + "with its certificate table)")
        }
        let pool = certificates + extraRoots
        var intermediate = pool.first { $0 !== leaf && leaf.isSignature(issuedBy: $0) && !$0.isSignature(issuedBy: $0) }
        var root = intermediate.flatMap { ask in
            pool.first { ask.isSignature(issuedBy: $0) && $0.isSignature(issuedBy: $0) }
        }
        var shipped = false
        if shippedCertificates, root == nil {
            let kind: AMDCertificates.KeyKind = keyKind == .vcek ? .vcek : .vlek
            for product in SNPVerification.productCandidates(report: report, leaf: leaf) {
                guard let chain = AMDCertificates.chain(product: product, kind: kind) else { continue }
                if let given = intermediate {
                    // The evidence gave the ASK/ASVK but not the ARK: only a shipped ARK that signed it.
                    guard given.isSignature(issuedBy: chain.root) else { continue }
                } else {
                    guard leaf.isSignature(issuedBy: chain.intermediate) else { continue }
                    intermediate = chain.intermediate
                }
                root = chain.root
                shipped = true
                break
            }
        }
        self.report = report
        self.signingKey = keyKind
        self.leaf = leaf
        self.intermediate = intermediate
        self.root = root
        self.usedShippedCertificates = shipped
        self.extraRoots = extraRoots
        self.revocationLists = revocationLists
        self.time = time
    }

    /// AMD's productName extension (e.g. "Milan-B0", "Genoa", "Turin").
    static let productNameOID = "1.3.6.1.4.1.3704.1.2"

    /// Product lines to try for shipped certificates, most likely first: the report's CPUID, the leaf's
    /// productName extension (before any stepping suffix), then the rest.
    static func productCandidates(report: SNPReport, leaf: Certificate) -> [String] {
        var candidates: [String] = []
        if let product = report.productName { candidates.append(product) }
        if let raw = leaf.extensionValue(oid: productNameOID),
            let name = DER.ia5String(raw) ?? String(validating: raw, as: UTF8.self),
            let line = AMDCertificates.products.first(where: { name == $0 || name.hasPrefix($0 + "-") })
        {
            candidates.append(line)
        }
        for product in AMDCertificates.products where !candidates.contains(product) { candidates.append(product) }
        return candidates
    }

    /// "VCEK" or "VLEK".
    public var label: String { signingKey == .vcek ? "VCEK" : "VLEK" }

    /// VCEK → ASK → ARK or VLEK → ASVK → ARK, when both were found.
    public var resolvedChain: [Certificate]? {
        guard let intermediate, let root else { return nil }
        return [leaf, intermediate, root]
    }

    /// How the root is trusted.
    public enum Anchor: Sendable, Equatable {
        /// AMD's ARK for this product (pinned by SPKI fingerprint in ``TrustAnchors/amdARK``).
        case amd(product: String)
        /// A root passed explicitly (`extraRoots`).
        case explicit
        /// Neither: the root's SPKI SHA-256.
        case untrusted(fingerprint: String)
    }

    /// How the root is trusted; nil when the chain has no root.
    public var anchor: Anchor? {
        guard let root else { return nil }
        let fingerprint = Hex.encode(root.spkiSHA256)
        if let product = TrustAnchors.amdARK[fingerprint] { return .amd(product: product) }
        if extraRoots.contains(where: { Hex.encode($0.spkiSHA256) == fingerprint }) { return .explicit }
        return .untrusted(fingerprint: fingerprint)
    }
}
