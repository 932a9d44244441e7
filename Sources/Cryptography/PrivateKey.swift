// SPDX-License-Identifier: Apache-2.0
// EC and RSA private keys over EVP_PKEY: generation, PEM, signing, ECDH, RSA-OAEP decryption.

import COpenSSL
import SecureMemory

/// A private key (EC or RSA). Its material never leaves except as PKCS#8 PEM in zeroizing memory.
public final class PrivateKey: @unchecked Sendable {
    let handle: PKeyHandle

    init(handle: PKeyHandle) { self.handle = handle }

    /// Generates an EC key on `curve`. Calls `EVP_PKEY_generate`.
    public static func generateEC(_ curve: Curve) throws -> PrivateKey {
        let context = try PKeyContext(name: "EC")
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context.pointer) == 1,
            EVP_PKEY_CTX_set_group_name(context.pointer, curve.groupName) == 1,
            EVP_PKEY_generate(context.pointer, &key) == 1, let key
        else { throw CryptoError(.internalFailure, "failed to generate a \(curve.rawValue) key") }
        return PrivateKey(handle: PKeyHandle(key))
    }

    /// Generates an RSA key with exponent 65537.
    public static func generateRSA(bits: Int) throws -> PrivateKey {
        let context = try PKeyContext(name: "RSA")
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context.pointer) == 1,
            EVP_PKEY_CTX_set_rsa_keygen_bits(context.pointer, Int32(bits)) == 1,
            EVP_PKEY_generate(context.pointer, &key) == 1, let key
        else { throw CryptoError(.internalFailure, "failed to generate an RSA-\(bits) key") }
        return PrivateKey(handle: PKeyHandle(key))
    }

    /// Parses a PEM private key (PKCS#8 or traditional, unencrypted). An unencrypted PKCS#8 EC key on a
    /// curve of ``Curve`` (what ``pemPKCS8()`` writes) is built from its fields with `EVP_PKEY_fromdata`;
    /// anything else goes through `PEM_read_bio_PrivateKey` (OpenSSL 3's decoder chain, several million
    /// instructions per key).
    public convenience init(pem: SecretBytes) throws {
        if let key = ECPrivateKeyInfo.key(pem: pem) {
            self.init(handle: PKeyHandle(key))
            return
        }
        let key: OpaquePointer? = pem.withUnsafeBytes { bytes in
            guard let bio = BIO_new_mem_buf(bytes.baseAddress, Int32(bytes.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        guard let key else { throw CryptoError(.invalidKey, "failed to parse a PEM private key") }
        self.init(handle: PKeyHandle(key))
    }

    /// The key as PKCS#8 PEM, in zeroizing memory (for a 0600 file only).
    public func pemPKCS8() throws -> SecretBytes {
        guard let bio = BIO_new(BIO_s_secmem()) else { throw CryptoError(.internalFailure, "failed to allocate") }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PKCS8PrivateKey(bio, handle.pointer, nil, nil, 0, nil, nil) == 1 else {
            throw CryptoError(.internalFailure, "failed to encode the private key")
        }
        var data: UnsafeMutablePointer<CChar>?
        let length = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data)
        guard length > 0, let data else { throw CryptoError(.internalFailure, "failed to encode the private key") }
        return SecretBytes(copying: UnsafeRawBufferPointer(start: data, count: length))
    }

    /// The matching public key.
    public var publicKey: PublicKey {
        // Round-trip through the SPKI so the public object shares nothing with the private one.
        (try? PublicKey(spkiDER: PublicKey.spki(handle.pointer))) ?? PublicKey(handle: handle)
    }

    /// The curve of an EC key, read from the key itself (no public-key round trip), or nil.
    var curve: Curve? {
        var name = [CChar](repeating: 0, count: 64)
        var nameLength = 0
        guard EVP_PKEY_get_utf8_string_param(handle.pointer, "group", &name, name.count, &nameLength) == 1 else {
            return nil
        }
        return Curve(groupName: String(decoding: name.prefix(nameLength).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// Signs with ECDSA and returns fixed-width big-endian r and s.
    public func signECDSA(_ alg: DigestAlgorithm, data: [UInt8]) throws -> (r: [UInt8], s: [UInt8]) {
        guard let curve else {
            throw CryptoError(.invalidKey, "failed to sign with ECDSA: not an EC key")
        }
        let der = try signECDSADER(alg, data: data)
        guard let (r, s) = ECDSASignature.components(der: der, width: curve.coordinateByteCount) else {
            throw CryptoError(.internalFailure, "failed to decode an ECDSA signature")
        }
        return (r, s)
    }

    /// Signs with ECDSA and returns the DER signature. Calls `EVP_DigestSign`.
    public func signECDSADER(_ alg: DigestAlgorithm, data: [UInt8]) throws -> [UInt8] {
        try sign(alg, data: data) { _ in true }
    }

    /// Signs with RSASSA-PSS (MGF1 with the same hash).
    public func signRSAPSS(_ alg: DigestAlgorithm, data: [UInt8], saltLength: Int) throws -> [UInt8] {
        try sign(alg, data: data) { context in
            EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PSS_PADDING) == 1
                && EVP_PKEY_CTX_set_rsa_pss_saltlen(context, Int32(saltLength)) == 1
                && EVP_PKEY_CTX_set_rsa_mgf1_md(context, alg.evp) == 1
        }
    }

    func sign(_ alg: DigestAlgorithm, data: [UInt8], configure: (OpaquePointer?) -> Bool) throws -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw CryptoError(.internalFailure, "failed to allocate") }
        defer { EVP_MD_CTX_free(context) }
        var keyContext: OpaquePointer?
        var length = 0
        guard EVP_DigestSignInit(context, &keyContext, alg.evp, nil, handle.pointer) == 1, configure(keyContext),
            EVP_DigestSign(context, nil, &length, data, data.count) == 1
        else { throw CryptoError(.invalidKey, "failed to sign") }
        var out = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &out, &length, data, data.count) == 1 else {
            throw CryptoError(.internalFailure, "failed to sign")
        }
        return Array(out[0..<length])
    }

    /// ECDH: the raw shared secret Z with `peer` (same curve). Calls `EVP_PKEY_derive`.
    public func ecdh(with peer: PublicKey) throws -> SecretBytes {
        guard let mine = curve, let theirs = peer.ecCoordinates?.curve, mine == theirs else {
            throw CryptoError(.invalidKey, "failed to agree on a key: the peer key is not on this key's curve")
        }
        let context = try PKeyContext(key: handle.pointer)
        var length = 0
        guard EVP_PKEY_derive_init(context.pointer) == 1,
            EVP_PKEY_derive_set_peer(context.pointer, peer.handle.pointer) == 1,
            EVP_PKEY_derive(context.pointer, nil, &length) == 1
        else { throw CryptoError(.invalidKey, "failed to agree on an ECDH key") }
        return try SecretBytes(count: length) { out in
            var written = out.count
            guard EVP_PKEY_derive(context.pointer, out.baseAddress?.assumingMemoryBound(to: UInt8.self), &written) == 1,
                written == out.count
            else { throw CryptoError(.internalFailure, "failed to derive the ECDH secret") }
        }
    }

    /// RSAES-OAEP-SHA-256 decryption (JWE `RSA-OAEP-256`).
    public func decryptRSAOAEP(sha256 ciphertext: [UInt8]) throws -> SecretBytes {
        let context = try PKeyContext(key: handle.pointer)
        var length = 0
        guard EVP_PKEY_decrypt_init(context.pointer) == 1,
            EVP_PKEY_CTX_set_rsa_padding(context.pointer, RSA_PKCS1_OAEP_PADDING) == 1,
            EVP_PKEY_CTX_set_rsa_oaep_md(context.pointer, EVP_sha256()) == 1,
            EVP_PKEY_CTX_set_rsa_mgf1_md(context.pointer, EVP_sha256()) == 1,
            EVP_PKEY_decrypt(context.pointer, nil, &length, ciphertext, ciphertext.count) == 1
        else { throw CryptoError(.invalidKey, "failed to set up RSA-OAEP decryption (is this an RSA key?)") }
        let out = SecretBytes(zeroedCount: length)
        let ok = out.withUnsafeMutableBytes { buffer in
            EVP_PKEY_decrypt(
                context.pointer, buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), &length, ciphertext,
                ciphertext.count)
        }
        guard ok == 1 else {
            throw CryptoError(.authenticationFailed, "failed to decrypt with RSA-OAEP: the ciphertext is not valid")
        }
        return out.withUnsafeBytes { SecretBytes(copying: $0[0..<length]) }
    }
}
