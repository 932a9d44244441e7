// SPDX-License-Identifier: Apache-2.0
// Verifies an SNP report: signature, VCEK/VLEK chain to a pinned ARK, TCB and chip id against the certificate.

import Cryptography
import FoundationEssentials
import TEEEvidence

/// Verifies SNP attestation reports.
///
/// 1. The report's ECDSA P-384 signature over bytes 0x000–0x29F, as received, with the VCEK or VLEK.
/// 2. VCEK→ASK→ARK or VLEK→ASVK→ARK, RSASSA-PSS SHA-384, each valid at `time`, the ARK self-signed
///    and pinned (AMD's, compiled in) or passed explicitly (`extraRoots`, e.g. the simulator's).
/// 3. REPORTED_TCB against the certificate's SPL extensions; CHIP_ID against hwID (VCEK only).
public enum SNPVerifier {
    /// AMD's VCEK extension OIDs (1.3.6.1.4.1.3704.1.*).
    enum OID {
        static let productName = "1.3.6.1.4.1.3704.1.2"
        static let blSPL = "1.3.6.1.4.1.3704.1.3.1"
        static let teeSPL = "1.3.6.1.4.1.3704.1.3.2"
        static let snpSPL = "1.3.6.1.4.1.3704.1.3.3"
        static let ucodeSPL = "1.3.6.1.4.1.3704.1.3.8"
        static let fmcSPL = "1.3.6.1.4.1.3704.1.3.9"
        static let hwID = "1.3.6.1.4.1.3704.1.4"
    }

    public static func verify(
        report: SNPReport, certificates: [Certificate], extraRoots: [Certificate] = [],
        revocationLists: [CertificateRevocationList] = [], at time: Date
    ) -> VerificationResult {
        var failures: [String] = []
        var passed: [String] = []
        let simulatedRoots = Set(extraRoots.map { HexString.encode($0.spkiSHA256) })
        var summary = report.summary()

        // 1. Which key signed, and its certificate.
        let keyKind = report.signingKey
        guard keyKind != .none, !report.chipKeyMasked else {
            failures.append("signing key: the report is not signed (KEY_INFO says no signing key or a masked chip key)")
            return VerificationResult(failures: failures, passed: passed, summary: .snp(summary))
        }
        let label = keyKind == .vcek ? "VCEK" : "VLEK"
        let leafCandidates = certificates.filter { certificate in
            certificate.publicKey.ecCoordinates?.curve == .p384
        }
        let leaf =
            leafCandidates.first { $0.subject.contains("SEV-\(label)") }
            ?? leafCandidates.first { candidate in
                let (r, s) = report.signatureBigEndian()
                return candidate.publicKey.verifyECDSA(.sha384, r: r, s: s, data: report.signedBytes)
            }
        guard let leaf else {
            failures.append(
                "\(label.lowercased()): no \(label) certificate given (pass it with --cert, or use an extended report "
                    + "with its certificate table)")
            return VerificationResult(failures: failures, passed: passed, summary: .snp(summary))
        }

        // 2. Report signature over the raw bytes.
        let (r, s) = report.signatureBigEndian()
        if report.signatureAlgorithm != 1 {
            failures.append(
                "report signature: SIGNATURE_ALGO is \(report.signatureAlgorithm), not 1 (ECDSA P-384 with SHA-384)")
        } else if leaf.publicKey.verifyECDSA(.sha384, r: r, s: s, data: report.signedBytes) {
            passed.append("report signature")
        } else {
            failures.append("report signature: does not verify with the \(label) '\(leaf.subject)'")
        }

        // 3. Chain: leaf ← ASK/ASVK ← ARK (self-signed, pinned or explicitly trusted).
        let pool = certificates + extraRoots
        let intermediate = pool.first { $0 !== leaf && leaf.isSignature(issuedBy: $0) && !$0.isSignature(issuedBy: $0) }
        let root = intermediate.flatMap { ask in
            pool.first { ask.isSignature(issuedBy: $0) && $0.isSignature(issuedBy: $0) }
        }
        if intermediate == nil {
            failures.append(
                "\(label.lowercased()) chain: no \(keyKind == .vcek ? "ASK" : "ASVK") certificate signed the \(label)")
        } else if let root {
            let fingerprint = HexString.encode(root.spkiSHA256)
            if let product = TrustAnchors.amdARK[fingerprint] {
                passed.append("\(label.lowercased()) chain to AMD ARK-\(product)")
                if let reportProduct = report.productName, reportProduct != product {
                    failures.append("product: the report's CPUID says \(reportProduct) but the chain is ARK-\(product)")
                }
            } else if simulatedRoots.contains(fingerprint) {
                passed.append("\(label.lowercased()) chain to an explicitly trusted root '\(root.subject)'")
                summary.simulated = root.subject.contains("SIMULATED")
            } else {
                failures.append(
                    "ark: the root '\(root.subject)' is not a trusted AMD root (SPKI SHA-256 \(fingerprint)); "
                        + "pass --trust-root only for roots you trust, such as the simulator's")
            }
            for certificate in [leaf, intermediate, root].compactMap({ $0 }) where !certificate.isValid(at: time) {
                failures.append(
                    "validity: '\(certificate.subject)' is not valid at \(time) (\(certificate.notBefore)…\(certificate.notAfter))"
                )
            }
            if let intermediate {
                let revocation = checkRevocation(
                    chain: [leaf, intermediate, root], revocationLists: revocationLists, at: time)
                failures += revocation.failures
                passed += revocation.passed
            }
        } else {
            failures.append("\(label.lowercased()) chain: no self-signed ARK certificate signed the intermediate")
        }

        // 4. TCB and chip id against the certificate's extensions.
        let tcb = report.reportedTCB
        var specs: [(String, String, UInt8)] = [
            ("bootloader", OID.blSPL, tcb.bootloader), ("tee", OID.teeSPL, tcb.tee), ("snp", OID.snpSPL, tcb.snp),
            ("microcode", OID.ucodeSPL, tcb.microcode),
        ]
        if let fmc = tcb.fmc { specs.append(("fmc", OID.fmcSPL, fmc)) }
        var tcbOK = true
        for (name, oid, reported) in specs {
            guard let raw = leaf.extensionValue(oid: oid), let certified = DER.integer(raw) else {
                failures.append("tcb: the \(label) has no readable \(name) SPL extension (\(oid))")
                tcbOK = false
                continue
            }
            if certified != UInt64(reported) {
                failures.append("tcb mismatch: \(name) (report \(reported), certificate \(certified))")
                tcbOK = false
            }
        }
        if tcbOK { passed.append("reported TCB matches the \(label)") }
        if keyKind == .vcek {
            let expected = report.usesTurinTCBEncoding ? Array(report.chipID.prefix(8)) : report.chipID
            // AMD stores hwID as the raw bytes; accept a DER OCTET STRING wrapper too.
            let raw = leaf.extensionValue(oid: OID.hwID)
            if let raw, raw == expected || DER.octetString(raw) == expected {
                passed.append("chip id matches the VCEK hwID")
            } else {
                failures.append("chip id: CHIP_ID does not match the VCEK's hwID extension")
            }
        }
        return VerificationResult(failures: failures, passed: passed, summary: .snp(summary))
    }

    /// AMD KDS CRLs (`/vcek/v1/{product}/crl`, signed by the ARK; they list revoked ASKs/ASVKs): each CRL
    /// whose issuer is in the chain must verify with that issuer and be fresh at `time`, and must not list
    /// a certificate of the chain. CRLs of other issuers are not applicable and ignored.
    static func checkRevocation(
        chain: [Certificate], revocationLists: [CertificateRevocationList], at time: Date
    ) -> (failures: [String], passed: [String]) {
        RevocationCheck.check(chain: chain, revocationLists: revocationLists, at: time) { name, date in
            "crl: the CRL of '\(name)' expired at \(date) (fetch a current one from AMD KDS)"
        }
    }
}
