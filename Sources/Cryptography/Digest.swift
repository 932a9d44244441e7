// SPDX-License-Identifier: Apache-2.0
// Message digests (SHA-256/384/512) through OpenSSL's EVP interface.

import COpenSSL

/// The hash functions the agent uses.
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    case sha256, sha384, sha512

    /// The digest size in bytes.
    public var outputByteCount: Int {
        switch self {
        case .sha256: 32
        case .sha384: 48
        case .sha512: 64
        }
    }

    /// The OpenSSL message digest (static objects; never freed).
    var evp: OpaquePointer {
        switch self {
        case .sha256: EVP_sha256()
        case .sha384: EVP_sha384()
        case .sha512: EVP_sha512()
        }
    }

    /// OpenSSL's name for the digest (EVP_MD_fetch / OSSL_PARAM "digest").
    var openSSLName: String {
        switch self {
        case .sha256: "SHA256"
        case .sha384: "SHA384"
        case .sha512: "SHA512"
        }
    }

    /// Hashes `data` in one call. Calls `EVP_Digest`.
    public func hash<B: Collection<UInt8>>(_ data: B) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: outputByteCount)
        var length: UInt32 = 0
        let ok = data.withContiguousStorageIfAvailable { buffer in
            EVP_Digest(buffer.baseAddress, buffer.count, &out, &length, evp, nil)
        }
        let result =
            ok
            ?? Array(data).withUnsafeBufferPointer { buffer in
                EVP_Digest(buffer.baseAddress, buffer.count, &out, &length, evp, nil)
            }
        // EVP_Digest fails only on allocation failure; no input can make it fail.
        precondition(result == 1 && Int(length) == outputByteCount, "EVP_Digest failed")
        return out
    }
}
