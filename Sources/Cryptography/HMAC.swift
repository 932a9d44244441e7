// SPDX-License-Identifier: Apache-2.0
// HMAC (RFC 2104) through OpenSSL's EVP_MAC interface.

import COpenSSL
import SecureMemory

/// HMAC over a secret key.
public enum HMAC {
    /// Computes HMAC(`key`, `data`). Calls `EVP_Q_mac` (the one-shot EVP_MAC "HMAC").
    public static func authenticationCode(_ alg: DigestAlgorithm, key: SecretBytes, data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: alg.outputByteCount)
        var length = 0
        // An empty key is legal HMAC (it is zero-padded to the block size); OpenSSL wants a non-null pointer.
        let zeroKey: [UInt8] = [0]
        let result = key.withUnsafeBytes { keyBytes in
            zeroKey.withUnsafeBytes { zero in
                let pointer = keyBytes.count > 0 ? keyBytes.baseAddress : zero.baseAddress
                return EVP_Q_mac(
                    nil, "HMAC", nil, alg.openSSLName, nil, pointer, keyBytes.count, data, data.count, &out, out.count,
                    &length)
            }
        }
        // EVP_Q_mac fails only on allocation failure or an unknown digest, neither of which input can cause.
        precondition(result != nil && length == out.count, "EVP_Q_mac(HMAC-\(alg.openSSLName)) failed")
        return out
    }

    /// Checks a code in constant time (`CRYPTO_memcmp`); a code of the wrong length is invalid.
    public static func isValid(_ alg: DigestAlgorithm, key: SecretBytes, data: [UInt8], code: [UInt8]) -> Bool {
        let expected = authenticationCode(alg, key: key, data: data)
        guard expected.count == code.count else { return false }
        return CRYPTO_memcmp(expected, code, code.count) == 0
    }
}
