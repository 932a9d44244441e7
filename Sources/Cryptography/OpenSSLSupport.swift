// SPDX-License-Identifier: Apache-2.0
// Internal owners of OpenSSL objects and small encoding helpers shared by the module.

import COpenSSL

/// Owns an `EVP_PKEY`.
final class PKeyHandle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { EVP_PKEY_free(pointer) }
}

/// Owns an `EVP_PKEY_CTX`.
final class PKeyContext {
    let pointer: OpaquePointer
    init(key: OpaquePointer) throws {
        guard let pointer = EVP_PKEY_CTX_new_from_pkey(nil, key, nil) else {
            throw CryptoError(.internalFailure, "failed to create a key context")
        }
        self.pointer = pointer
    }
    init(name: String) throws {
        guard let pointer = EVP_PKEY_CTX_new_from_name(nil, name, nil) else {
            throw CryptoError(.internalFailure, "failed to create a '\(name)' key context")
        }
        self.pointer = pointer
    }
    deinit { EVP_PKEY_CTX_free(pointer) }
}

/// Owns an `EVP_CIPHER_CTX`.
final class CipherContext {
    let pointer: OpaquePointer

    init() throws {
        guard let pointer = EVP_CIPHER_CTX_new() else {
            throw CryptoError(.internalFailure, "failed to allocate a cipher context")
        }
        self.pointer = pointer
    }

    deinit { EVP_CIPHER_CTX_free(pointer) }
}

/// `EVP_PKEY_PUBLIC_KEY` (OSSL_KEYMGMT_SELECT_ALL_PARAMETERS 0x84 | OSSL_KEYMGMT_SELECT_PUBLIC_KEY 0x02);
/// a composite macro Swift cannot import.
let selectPublicKey: Int32 = 0x86

/// A NUL-terminated C string with static lifetime (for OSSL_PARAM keys, which OpenSSL keeps by reference).
func cString(_ text: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// Conversions between DER ECDSA signatures and fixed-width (r, s).
enum ECDSASignature {
    static func der(r: [UInt8], s: [UInt8]) -> [UInt8]? {
        guard let signature = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(signature) }
        guard let rBN = BN_bin2bn(r, Int32(r.count), nil) else { return nil }
        guard let sBN = BN_bin2bn(s, Int32(s.count), nil) else {
            BN_free(rBN)
            return nil
        }
        guard ECDSA_SIG_set0(signature, rBN, sBN) == 1 else {
            BN_free(rBN)
            BN_free(sBN)
            return nil
        }
        let length = i2d_ECDSA_SIG(signature, nil)
        guard length > 0 else { return nil }
        var out = [UInt8](repeating: 0, count: Int(length))
        out.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d_ECDSA_SIG(signature, &cursor)
        }
        return out
    }

    static func components(der: [UInt8], width: Int) -> ([UInt8], [UInt8])? {
        let signature: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
        }
        guard let signature else { return nil }
        defer { ECDSA_SIG_free(signature) }
        guard let r = ECDSA_SIG_get0_r(signature), let s = ECDSA_SIG_get0_s(signature) else { return nil }
        return (BigNumber.bytes(r, width: width), BigNumber.bytes(s, width: width))
    }
}

/// BIGNUM to bytes.
enum BigNumber {
    static func bytes(_ bn: OpaquePointer?, width: Int? = nil) -> [UInt8] {
        guard let bn else { return [] }
        let count = Int((BN_num_bits(bn) + 7) / 8)
        let size = max(width ?? count, count)
        var out = [UInt8](repeating: 0, count: size)
        _ = BN_bn2binpad(bn, &out, Int32(size))
        return out
    }
}

/// PEM armour.
enum PEM {
    static func encode(label: String, der: [UInt8]) -> String {
        let base64 = Base64.encode(der)
        var lines: [Substring] = []
        var index = base64.startIndex
        while index < base64.endIndex {
            let end = base64.index(index, offsetBy: 64, limitedBy: base64.endIndex) ?? base64.endIndex
            lines.append(base64[index..<end])
            index = end
        }
        return "-----BEGIN \(label)-----\n" + lines.joined(separator: "\n") + "\n-----END \(label)-----\n"
    }
}

/// Standard base64 (RFC 4648 §4) for PEM; the protocol modules have their own (KBSProtocol.Base64).
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 2 < bytes.count {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], table[Int(n & 63)]]
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let n = UInt32(bytes[index]) << 16
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
