// SPDX-License-Identifier: Apache-2.0
// AES-256-GCM through OpenSSL's EVP cipher interface.

import COpenSSL
import SecureMemory

/// AES-256-GCM with a 12-byte nonce and a 16-byte tag.
public enum AESGCM {
    /// Encrypts `plaintext`. Calls `EVP_EncryptInit_ex`/`EVP_EncryptUpdate`/`EVP_EncryptFinal_ex`.
    public static func seal(
        key: SecretBytes, nonce: [UInt8], plaintext: SecretBytes, aad: [UInt8]
    ) throws -> (ciphertext: [UInt8], tag: [UInt8]) {
        try checkParameters(key: key, nonce: nonce)
        let context = try CipherContext()
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + 16)
        var tag = [UInt8](repeating: 0, count: 16)
        var length: Int32 = 0
        var total = 0
        let ok = key.withUnsafeBytes { keyBytes in
            plaintext.withUnsafeBytes { plain in
                guard
                    EVP_EncryptInit_ex(context.pointer, EVP_aes_256_gcm(), nil, nil, nil) == 1,
                    EVP_CIPHER_CTX_ctrl(context.pointer, EVP_CTRL_GCM_SET_IVLEN, Int32(nonce.count), nil) == 1,
                    EVP_EncryptInit_ex(
                        context.pointer, nil, nil, keyBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), nonce)
                        == 1
                else { return false }
                if !aad.isEmpty {
                    guard EVP_EncryptUpdate(context.pointer, nil, &length, aad, Int32(aad.count)) == 1 else {
                        return false
                    }
                }
                if plain.count > 0 {
                    guard
                        EVP_EncryptUpdate(
                            context.pointer, &ciphertext, &length,
                            plain.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(plain.count)) == 1
                    else { return false }
                    total = Int(length)
                }
                return ciphertext.withUnsafeMutableBufferPointer { out in
                    EVP_EncryptFinal_ex(context.pointer, out.baseAddress.map { $0 + total }, &length) == 1
                } && EVP_CIPHER_CTX_ctrl(context.pointer, EVP_CTRL_GCM_GET_TAG, 16, &tag) == 1
            }
        }
        guard ok else { throw CryptoError(.internalFailure, "failed to encrypt with AES-256-GCM") }
        total += Int(length)
        return (Array(ciphertext[0..<total]), tag)
    }

    /// Decrypts and authenticates; any change to key, nonce, ciphertext, tag or AAD fails.
    public static func open(
        key: SecretBytes, nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8], aad: [UInt8]
    ) throws -> SecretBytes {
        try checkParameters(key: key, nonce: nonce)
        guard tag.count == 16 else {
            throw CryptoError(.authenticationFailed, "failed to decrypt: the GCM tag must be 16 bytes")
        }
        let context = try CipherContext()
        var tagCopy = tag
        var length: Int32 = 0
        let plaintext = SecretBytes(zeroedCount: ciphertext.count + 16)
        var total = 0
        let ok = key.withUnsafeBytes { keyBytes in
            plaintext.withUnsafeMutableBytes { out -> Bool in
                let outBase = out.baseAddress?.assumingMemoryBound(to: UInt8.self)
                guard
                    EVP_DecryptInit_ex(context.pointer, EVP_aes_256_gcm(), nil, nil, nil) == 1,
                    EVP_CIPHER_CTX_ctrl(context.pointer, EVP_CTRL_GCM_SET_IVLEN, Int32(nonce.count), nil) == 1,
                    EVP_DecryptInit_ex(
                        context.pointer, nil, nil, keyBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), nonce)
                        == 1
                else { return false }
                if !aad.isEmpty {
                    guard EVP_DecryptUpdate(context.pointer, nil, &length, aad, Int32(aad.count)) == 1 else {
                        return false
                    }
                }
                if !ciphertext.isEmpty {
                    guard EVP_DecryptUpdate(context.pointer, outBase, &length, ciphertext, Int32(ciphertext.count)) == 1
                    else { return false }
                    total = Int(length)
                }
                guard EVP_CIPHER_CTX_ctrl(context.pointer, EVP_CTRL_GCM_SET_TAG, 16, &tagCopy) == 1 else {
                    return false
                }
                return EVP_DecryptFinal_ex(context.pointer, outBase.map { $0 + total }, &length) == 1
            }
        }
        guard ok else {
            plaintext.wipe()
            throw CryptoError(.authenticationFailed, "failed to decrypt: AES-GCM authentication failed")
        }
        total += Int(length)
        return plaintext.withUnsafeBytes { SecretBytes(copying: $0[0..<total]) }
    }

    private static func checkParameters(key: SecretBytes, nonce: [UInt8]) throws {
        guard key.count == 32 else {
            throw CryptoError(.invalidKey, "failed to use AES-256-GCM: the key is \(key.count) bytes, not 32")
        }
        guard nonce.count == 12 else {
            throw CryptoError(.invalidInput, "failed to use AES-256-GCM: the nonce is \(nonce.count) bytes, not 12")
        }
    }
}
