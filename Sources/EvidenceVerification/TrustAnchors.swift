// SPDX-License-Identifier: Apache-2.0
// The vendor roots trusted by public-key fingerprint, compiled into the source.

/// Trust anchors compiled into the source: published vendor roots, pinned by the SHA-256 of their
/// SubjectPublicKeyInfo. Certificates themselves come from the evidence or from the user.
public enum TrustAnchors {
    /// AMD Root Keys (ARK), as served by AMD KDS `/vcek/v1/{product}/cert_chain` (the same ARK signs
    /// the VLEK chain's ASVK).
    public static let amdARK: [String: String] = [
        // CN=ARK-Milan (serial 0x10000, RSA-4096, 2020-10-22..2045-10-22), published by AMD KDS at
        // https://kdsintf.amd.com/vcek/v1/Milan/cert_chain (corpus: certs/amd-milan-vcek-ask-ark.pem).
        "9f056bee44377e29308cb5ffa895bdfb62d18881fa6bed8d6f075b0204089cb9": "Milan",
        // CN=ARK-Genoa (serial 0x20000, RSA-4096, 2022-01-26..2047), published by AMD KDS at
        // https://kdsintf.amd.com/vcek/v1/Genoa/cert_chain (corpus: certs/amd-genoa-vcek-ask-ark.pem).
        "429a69c9422aa258ee4d8db5fcda9c6470ef15f8cd5a9cebd6cbc7d90b863831": "Genoa",
        // CN=ARK-Turin (serial 0x30000, RSA-4096), published by AMD KDS at
        // https://kdsintf.amd.com/vcek/v1/Turin/cert_chain (corpus: certs/amd-turin-vcek-ask-ark.pem).
        "4f125410563a2ab9a50356f9243f6fe0b6f73de98603f53f90339c70e9d7ad08": "Turin",
    ]

    /// CN=Intel SGX Root CA (P-256, 2018-05-21..2049-12-31), the root of every PCK chain and of the TCB
    /// signing chain, published at https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.pem
    /// (corpus: collateral/intel-sgx-root-ca.pem). Computed as SHA-256 of the DER SubjectPublicKeyInfo.
    public static let intelSGXRootCA = "a0af031289f5d5d4132f9186068a7fc13628633ba235777472e29b6b6c67a49e"
}
