// SPDX-License-Identifier: Apache-2.0
// Message digests (SHA-256/384/512, SM3) through OpenSSL's EVP interface.

import COpenSSL
import SecureMemory

/// The hash functions the agent uses.
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    case sha256, sha384, sha512
    /// SM3 (GB/T 32905-2016), 32 bytes: RCAR clients advertise it and a broker may select it.
    case sm3

    /// The digest size in bytes.
    public var outputByteCount: Int {
        switch self {
        case .sha256: 32
        case .sha384: 48
        case .sha512: 64
        case .sm3: 32
        }
    }

    /// The OpenSSL message digest (static objects; never freed).
    var evp: OpaquePointer {
        switch self {
        case .sha256: EVP_sha256()
        case .sha384: EVP_sha384()
        case .sha512: EVP_sha512()
        case .sm3: EVP_sm3()
        }
    }

    /// OpenSSL's name for the digest (EVP_MD_fetch / OSSL_PARAM "digest").
    var openSSLName: String {
        switch self {
        case .sha256: "SHA256"
        case .sha384: "SHA384"
        case .sha512: "SHA512"
        case .sm3: "SM3"
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

/// One input of ``DigestAlgorithm/secretHash(_:)``: public bytes, or key material read in place.
public enum SecretHashInput: Sendable {
    case bytes([UInt8])
    case secret(SecretBytes)
}

extension DigestAlgorithm {
    /// Hashes the concatenation of `parts` straight into zeroizing memory, for digests that are keys
    /// (a KDF round). Secret parts are fed from their own buffers: no array copy of them is made, and
    /// the digest context is cleansed when freed. Calls `EVP_DigestInit_ex`/`Update`/`Final_ex`.
    public func secretHash(_ parts: [SecretHashInput]) -> SecretBytes {
        // EVP_MD_CTX_new and the digest calls fail only on allocation failure; no input can cause it.
        guard let context = EVP_MD_CTX_new() else { preconditionFailure("EVP_MD_CTX_new failed") }
        defer { EVP_MD_CTX_free(context) }  // OPENSSL_clear_free of the digest state
        precondition(EVP_DigestInit_ex(context, evp, nil) == 1, "EVP_DigestInit_ex failed")
        for part in parts {
            let ok: Int32
            switch part {
            case .bytes(let bytes):
                ok = bytes.withUnsafeBytes { EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
            case .secret(let secret):
                ok = secret.withUnsafeBytes { EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
            }
            precondition(ok == 1, "EVP_DigestUpdate failed")
        }
        return SecretBytes(count: outputByteCount) { out in
            var length: UInt32 = 0
            let ok = EVP_DigestFinal_ex(context, out.baseAddress?.assumingMemoryBound(to: UInt8.self), &length)
            precondition(ok == 1 && Int(length) == out.count, "EVP_DigestFinal_ex failed")
        }
    }
}
