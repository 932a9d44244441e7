// SPDX-License-Identifier: Apache-2.0
// The outcome of verifying evidence: trusted, or every failed check named.

import TEEEvidence

/// A verification outcome. Never a bare Bool: a rejection lists every check that failed.
public struct VerificationResult: Sendable, Equatable {
    /// Each failed check as `"<check>: <detail>"`, e.g. `"report signature: does not verify with the VCEK"`.
    public var failures: [String]
    /// Checks that passed, for `--verbose` output and audit lines.
    public var passed: [String]
    /// The evidence summary.
    public var summary: EvidenceSummary

    public var trusted: Bool { failures.isEmpty }

    public init(failures: [String], passed: [String], summary: EvidenceSummary) {
        self.failures = failures
        self.passed = passed
        self.summary = summary
    }
}

/// Trust anchors compiled into the source: published vendor roots, pinned by the SHA-256 of their
/// SubjectPublicKeyInfo. Certificates themselves come from the evidence or from the user.
public enum TrustAnchors {
    /// AMD Root Keys (ARK), as served by AMD KDS `/vcek/v1/{product}/cert_chain` (the same ARK signs
    /// the VLEK chain's ASVK).
    public static let amdARK: [String: String] = [
        // CN=ARK-Milan, Advanced Micro Devices, RSA-4096
        "9f056bee44377e29308cb5ffa895bdfb62d18881fa6bed8d6f075b0204089cb9": "Milan",
        // CN=ARK-Genoa, Advanced Micro Devices, RSA-4096
        "429a69c9422aa258ee4d8db5fcda9c6470ef15f8cd5a9cebd6cbc7d90b863831": "Genoa",
        // CN=ARK-Turin, Advanced Micro Devices, RSA-4096
        "4f125410563a2ab9a50356f9243f6fe0b6f73de98603f53f90339c70e9d7ad08": "Turin",
    ]

    /// Intel SGX Root CA (P-256, 2018-05-21..2049-12-31), the root of every PCK chain.
    public static let intelSGXRootCA = "a0af031289f5d5d4132f9186068a7fc13628633ba235777472e29b6b6c67a49e"
}
