// SPDX-License-Identifier: Apache-2.0
// Verifies a TDX quote: quote signature, QE report binding and signature, PCK chain to the Intel root.

import Cryptography
import FoundationEssentials
import TEEEvidence

/// Verifies TDX quotes (v4/v5).
///
/// 1. ECDSA P-256 over header‖body with the attestation key.
/// 2. QE REPORTDATA = SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes.
/// 3. The QE report's ECDSA P-256 signature by the PCK leaf.
/// 4. PCK leaf → intermediate → root, valid at `time`; the root pinned (Intel SGX Root CA) or passed
///    explicitly (`extraRoots`, e.g. the simulator's).
/// 5. With collateral: its signatures and the TCB status (see ``TDXCollateral``).
public enum TDXVerifier {
    public static func verify(
        quote: TDXQuote, extraRoots: [Certificate] = [], collateral: TDXCollateral? = nil, at time: Date
    ) -> VerificationResult {
        var failures: [String] = []
        var passed: [String] = []
        var summary = quote.summary()

        let key = quote.attestationKey
        if let attestationKey = try? PublicKey(curve: .p256, x: Array(key[0..<32]), y: Array(key[32..<64])),
            attestationKey.verifyECDSA(
                .sha256, r: Array(quote.signature[0..<32]), s: Array(quote.signature[32..<64]), data: quote.signedBytes)
        {
            passed.append("quote signature")
        } else {
            failures.append("quote signature: does not verify with the attestation key")
        }
        let binding = DigestAlgorithm.sha256.hash(key + quote.qeAuthData) + [UInt8](repeating: 0, count: 32)
        if quote.qeReport.reportData == binding {
            passed.append("QE report binds the attestation key")
        } else {
            failures.append("qe report data: does not bind the attestation key (SHA-256(key ‖ auth data))")
        }

        var chainBytes = quote.pckChain
        while chainBytes.last == 0 { chainBytes.removeLast() }
        guard let chain = try? Certificate.parse(pemOrDER: chainBytes), let pck = chain.first else {
            failures.append("pck chain: the quote's certification data holds no readable PCK certificate chain")
            return VerificationResult(failures: failures, passed: passed, summary: .tdx(summary))
        }
        let qeSignature = quote.qeReportSignature
        if pck.publicKey.verifyECDSA(
            .sha256, r: Array(qeSignature[0..<32]), s: Array(qeSignature[32..<64]), data: quote.qeReport.raw)
        {
            passed.append("QE report signature by the PCK")
        } else {
            failures.append("qe report signature: does not verify with the PCK certificate '\(pck.subject)'")
        }
        let pool = chain + extraRoots
        let root = pool.first { $0.isSignature(issuedBy: $0) }
        guard let root else {
            failures.append("pck chain: no self-signed root certificate in the chain")
            return VerificationResult(failures: failures, passed: passed, summary: .tdx(summary))
        }
        let fingerprint = HexString.encode(root.spkiSHA256)
        let explicitlyTrusted = extraRoots.contains { HexString.encode($0.spkiSHA256) == fingerprint }
        if fingerprint == TrustAnchors.intelSGXRootCA {
            passed.append("pck chain to the Intel SGX Root CA")
        } else if explicitlyTrusted {
            passed.append("pck chain to an explicitly trusted root '\(root.subject)'")
            summary.simulated = root.subject.contains("SIMULATED")
        } else {
            failures.append(
                "root: '\(root.subject)' is not the Intel SGX Root CA (SPKI SHA-256 \(fingerprint)); "
                    + "pass --trust-root only for roots you trust, such as the simulator's")
        }
        // Walk leaf → root by signatures (chains are short: leaf, platform/processor CA, root).
        var current = pck
        var steps = 0
        while current !== root, steps < 4 {
            guard let issuer = pool.first(where: { $0 !== current && current.isSignature(issuedBy: $0) }) else {
                failures.append("pck chain: no certificate signed '\(current.subject)'")
                break
            }
            current = issuer
            steps += 1
        }
        for certificate in chain where !certificate.isValid(at: time) {
            failures.append("validity: '\(certificate.subject)' is not valid at \(time)")
        }
        if let collateral {
            let result = collateral.evaluate(quote: quote, pck: pck, chain: chain, at: time)
            failures += result.failures
            passed += result.passed
        }
        return VerificationResult(failures: failures, passed: passed, summary: .tdx(summary))
    }

    /// Replays a CCEL event log: RTMR[i] = SHA-384(RTMR[i] ‖ digest) for events with MR index 1…4.
    public static func replay(_ log: CCELEventLog) -> [[UInt8]] {
        var registers = [[UInt8]](repeating: [UInt8](repeating: 0, count: 48), count: 4)
        for event in log.events where (1...4).contains(event.mrIndex) {
            guard let digest = event.sha384 else { continue }
            let index = Int(event.mrIndex) - 1
            registers[index] = DigestAlgorithm.sha384.hash(registers[index] + digest)
        }
        return registers
    }
}
