// SPDX-License-Identifier: Apache-2.0
// HMAC and HKDF (RFC 2104, RFC 5869) through OpenSSL.

import COpenSSL
import SecureMemory

/// HMAC over a secret key.
public enum HMAC {
    /// Computes HMAC(`key`, `data`). Calls `HMAC` (one-shot).
    public static func authenticationCode(_ alg: DigestAlgorithm, key: SecretBytes, data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: alg.outputByteCount)
        var length: UInt32 = 0
        key.withUnsafeBytes { keyBytes in
            _ = COpenSSL.HMAC(alg.evp, keyBytes.baseAddress, Int32(keyBytes.count), data, data.count, &out, &length)
        }
        return out
    }

    /// Checks a code in constant time.
    public static func isValid(_ alg: DigestAlgorithm, key: SecretBytes, data: [UInt8], code: [UInt8]) -> Bool {
        let expected = authenticationCode(alg, key: key, data: data)
        guard expected.count == code.count else { return false }
        return CRYPTO_memcmp(expected, code, code.count) == 0
    }
}

/// HKDF extract-and-expand (RFC 5869).
public enum HKDF {
    /// Derives `outputByteCount` bytes into zeroizing memory. Calls `EVP_PKEY_derive` with the HKDF method.
    public static func derive(
        _ alg: DigestAlgorithm, inputKeyMaterial: SecretBytes, salt: [UInt8], info: [UInt8], outputByteCount: Int
    ) throws -> SecretBytes {
        guard outputByteCount > 0, outputByteCount <= 255 * alg.outputByteCount else {
            throw CryptoError(.invalidInput, "failed to derive a key: \(outputByteCount) bytes is out of range")
        }
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nil) else {
            throw CryptoError(.internalFailure, "failed to create an HKDF context")
        }
        defer { EVP_PKEY_CTX_free(context) }
        let saltBytes = salt.isEmpty ? [UInt8](repeating: 0, count: alg.outputByteCount) : salt
        let configured = inputKeyMaterial.withUnsafeBytes { ikm -> Bool in
            EVP_PKEY_derive_init(context) == 1
                && EVP_PKEY_CTX_set_hkdf_md(context, alg.evp) == 1
                && EVP_PKEY_CTX_set1_hkdf_salt(context, saltBytes, Int32(saltBytes.count)) == 1
                && EVP_PKEY_CTX_set1_hkdf_key(
                    context, ikm.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(ikm.count)) == 1
                && (info.isEmpty || EVP_PKEY_CTX_add1_hkdf_info(context, info, Int32(info.count)) == 1)
        }
        guard configured else { throw CryptoError(.internalFailure, "failed to configure HKDF") }
        return try SecretBytes(count: outputByteCount) { out in
            var length = out.count
            guard EVP_PKEY_derive(context, out.baseAddress?.assumingMemoryBound(to: UInt8.self), &length) == 1,
                length == out.count
            else { throw CryptoError(.internalFailure, "failed to derive an HKDF key") }
        }
    }
}
