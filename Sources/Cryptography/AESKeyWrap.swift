// SPDX-License-Identifier: Apache-2.0
// AES key wrap without padding (RFC 3394) through the EVP cipher interface.

import COpenSSL
import SecureMemory

/// AES key wrap without padding (RFC 3394), for A128KW and A256KW.
public enum AESKeyWrap {
    /// Wraps `key` (a multiple of 8 bytes, at least 16) under `kek` (16 or 32 bytes).
    public static func wrap(kek: SecretBytes, key: SecretBytes) throws -> [UInt8] {
        guard key.count >= 16, key.count % 8 == 0 else {
            throw CryptoError(.invalidInput, "failed to wrap a key: \(key.count) bytes is not a multiple of 8 ≥ 16")
        }
        var out = [UInt8](repeating: 0, count: key.count + 8)
        let written = try run(kek: kek, encrypt: true) { context, length in
            key.withUnsafeBytes { input in
                EVP_CipherUpdate(
                    context, &out, &length, input.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(input.count))
            }
        }
        return Array(out[0..<written])
    }

    /// Unwraps; a wrong KEK or modified input fails the integrity check.
    public static func unwrap(kek: SecretBytes, wrapped: [UInt8]) throws -> SecretBytes {
        guard wrapped.count >= 24, wrapped.count % 8 == 0 else {
            throw CryptoError(.invalidInput, "failed to unwrap a key: \(wrapped.count) bytes is not a wrapped key")
        }
        let out = SecretBytes(zeroedCount: wrapped.count)
        let written: Int
        do {
            written = try run(kek: kek, encrypt: false) { context, length in
                out.withUnsafeMutableBytes { buffer in
                    EVP_CipherUpdate(
                        context, buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), &length, wrapped,
                        Int32(wrapped.count))
                }
            }
        } catch {
            throw CryptoError(.authenticationFailed, "failed to unwrap a key: the integrity check failed")
        }
        return out.withUnsafeBytes { SecretBytes(copying: $0[0..<written]) }
    }

    private static func run(
        kek: SecretBytes, encrypt: Bool, update: (OpaquePointer, inout Int32) -> Int32
    ) throws -> Int {
        let cipher: OpaquePointer?
        switch kek.count {
        case 16: cipher = EVP_aes_128_wrap()
        case 32: cipher = EVP_aes_256_wrap()
        default: throw CryptoError(.invalidKey, "failed to use AES key wrap: the KEK is \(kek.count) bytes")
        }
        let context = try CipherContext()
        var length: Int32 = 0
        let ok = kek.withUnsafeBytes { kekBytes in
            EVP_CipherInit_ex(
                context.pointer, cipher, nil, kekBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), nil,
                encrypt ? 1 : 0) == 1
        }
        guard ok, update(context.pointer, &length) == 1, length > 0 else {
            throw CryptoError(.internalFailure, "failed to run AES key wrap")
        }
        return Int(length)
    }
}
