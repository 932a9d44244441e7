// SPDX-License-Identifier: Apache-2.0
// EC and RSA public keys over EVP_PKEY: import, export, signature verification, RSA-OAEP encryption.

import COpenSSL
import SecureMemory

/// A public key (EC or RSA).
public final class PublicKey: @unchecked Sendable {
    let handle: PKeyHandle

    init(handle: PKeyHandle) { self.handle = handle }

    /// Parses a DER SubjectPublicKeyInfo. Calls `d2i_PUBKEY`.
    public convenience init(spkiDER: [UInt8]) throws {
        let key: OpaquePointer? = spkiDER.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return d2i_PUBKEY(nil, &cursor, buffer.count)
        }
        guard let key else { throw CryptoError(.invalidKey, "failed to parse a public key (SubjectPublicKeyInfo)") }
        self.init(handle: PKeyHandle(key))
    }

    /// Parses a PEM `PUBLIC KEY`. Calls `PEM_read_bio_PUBKEY`.
    public convenience init(pem: String) throws {
        let bytes = Array(pem.utf8)
        guard let bio = BIO_new_mem_buf(bytes, Int32(bytes.count)) else {
            throw CryptoError(.internalFailure, "failed to allocate a BIO")
        }
        defer { BIO_free(bio) }
        guard let key = PEM_read_bio_PUBKEY(bio, nil, nil, nil) else {
            throw CryptoError(.invalidKey, "failed to parse a PEM public key")
        }
        self.init(handle: PKeyHandle(key))
    }

    /// Builds an EC public key from big-endian affine coordinates. Calls `EVP_PKEY_fromdata`.
    public convenience init(curve: Curve, x: [UInt8], y: [UInt8]) throws {
        let width = curve.coordinateByteCount
        guard x.count <= width, y.count <= width else {
            throw CryptoError(.invalidKey, "failed to build a \(curve.rawValue) key: coordinates too long")
        }
        let point =
            [0x04] + [UInt8](repeating: 0, count: width - x.count) + x + [UInt8](repeating: 0, count: width - y.count)
            + y
        let key = try curve.groupName.withCString { group in
            try point.withUnsafeBytes { pointBytes in
                // OSSL_PARAM_BLD keeps pointers to keys and values until to_param: all must outlive it.
                try Self.fromData(type: "EC") { builder in
                    OSSL_PARAM_BLD_push_utf8_string(builder, cString("group"), group, 0) == 1
                        && OSSL_PARAM_BLD_push_octet_string(
                            builder, cString("pub"), pointBytes.baseAddress, pointBytes.count) == 1
                }
            }
        }
        self.init(handle: key)
        // fromdata does not check that the point is on the curve; do it here (invalid-curve attacks).
        guard let checkContext = try? PKeyContext(key: key.pointer), EVP_PKEY_public_check(checkContext.pointer) == 1
        else {
            throw CryptoError(.invalidKey, "failed to build a \(curve.rawValue) key: the point is not on the curve")
        }
    }

    /// Builds an RSA public key from big-endian modulus and exponent.
    public convenience init(rsaModulus n: [UInt8], exponent e: [UInt8]) throws {
        guard n.count >= 256, n.count <= 1024, !e.isEmpty, e.count <= 8 else {
            throw CryptoError(.invalidKey, "failed to build an RSA key: modulus must be 2048-8192 bits")
        }
        let nBN = BN_bin2bn(n, Int32(n.count), nil)
        let eBN = BN_bin2bn(e, Int32(e.count), nil)
        defer {
            BN_free(nBN)
            BN_free(eBN)
        }
        let key = try Self.fromData(type: "RSA") { builder in
            OSSL_PARAM_BLD_push_BN(builder, cString("n"), nBN) == 1
                && OSSL_PARAM_BLD_push_BN(builder, cString("e"), eBN) == 1
        }
        self.init(handle: key)
    }

    private static func fromData(type: String, push: (OpaquePointer) -> Bool) throws -> PKeyHandle {
        guard let builder = OSSL_PARAM_BLD_new() else { throw CryptoError(.internalFailure, "failed to allocate") }
        defer { OSSL_PARAM_BLD_free(builder) }
        guard push(builder), let params = OSSL_PARAM_BLD_to_param(builder) else {
            throw CryptoError(.invalidKey, "failed to encode \(type) key parameters")
        }
        defer { OSSL_PARAM_free(params) }
        let context = try PKeyContext(name: type)
        var key: OpaquePointer?
        guard EVP_PKEY_fromdata_init(context.pointer) == 1,
            EVP_PKEY_fromdata(context.pointer, &key, selectPublicKey, params) == 1, let key
        else { throw CryptoError(.invalidKey, "failed to build an \(type) public key") }
        return PKeyHandle(key)
    }

    /// The DER SubjectPublicKeyInfo. Calls `i2d_PUBKEY`.
    public var spkiDER: [UInt8] { Self.spki(handle.pointer) }

    static func spki(_ key: OpaquePointer) -> [UInt8] {
        let length = i2d_PUBKEY(key, nil)
        guard length > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: Int(length))
        out.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d_PUBKEY(key, &cursor)
        }
        return out
    }

    /// PEM `PUBLIC KEY`.
    public var pem: String { PEM.encode(label: "PUBLIC KEY", der: spkiDER) }

    /// The curve and fixed-width big-endian coordinates, for EC keys.
    public var ecCoordinates: (curve: Curve, x: [UInt8], y: [UInt8])? {
        var name = [CChar](repeating: 0, count: 64)
        var nameLength = 0
        guard EVP_PKEY_get_utf8_string_param(handle.pointer, "group", &name, name.count, &nameLength) == 1,
            let curve = Curve(
                groupName: String(decoding: name.prefix(nameLength).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        else { return nil }
        var point = [UInt8](repeating: 0, count: 1 + 2 * curve.coordinateByteCount)
        var length = 0
        guard EVP_PKEY_get_octet_string_param(handle.pointer, "encoded-pub-key", &point, point.count, &length) == 1,
            length == point.count, point[0] == 0x04
        else { return nil }
        let width = curve.coordinateByteCount
        return (curve, Array(point[1...width]), Array(point[(width + 1)...]))
    }

    /// Big-endian modulus and exponent, for RSA keys.
    public var rsaComponents: (modulus: [UInt8], exponent: [UInt8])? {
        var n: OpaquePointer?
        var e: OpaquePointer?
        guard EVP_PKEY_get_bn_param(handle.pointer, "n", &n) == 1, EVP_PKEY_get_bn_param(handle.pointer, "e", &e) == 1
        else {
            BN_free(n)
            return nil
        }
        defer {
            BN_free(n)
            BN_free(e)
        }
        return (BigNumber.bytes(n), BigNumber.bytes(e))
    }

    /// Verifies a DER ECDSA signature over `data`. Calls `EVP_DigestVerify`.
    public func verifyECDSA(_ alg: DigestAlgorithm, signatureDER: [UInt8], data: [UInt8]) -> Bool {
        verify(alg, signature: signatureDER, data: data) { _ in true }
    }

    /// Verifies an ECDSA signature given as big-endian r and s.
    public func verifyECDSA(_ alg: DigestAlgorithm, r: [UInt8], s: [UInt8], data: [UInt8]) -> Bool {
        guard let der = ECDSASignature.der(r: r, s: s) else { return false }
        return verifyECDSA(alg, signatureDER: der, data: data)
    }

    /// Verifies an RSASSA-PSS signature (MGF1 with the same hash).
    public func verifyRSAPSS(_ alg: DigestAlgorithm, signature: [UInt8], data: [UInt8], saltLength: Int) -> Bool {
        verify(alg, signature: signature, data: data) { context in
            EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PSS_PADDING) == 1
                && EVP_PKEY_CTX_set_rsa_pss_saltlen(context, Int32(saltLength)) == 1
                && EVP_PKEY_CTX_set_rsa_mgf1_md(context, alg.evp) == 1
        }
    }

    /// Verifies an RSASSA-PKCS1-v1_5 signature.
    public func verifyRSAPKCS1(_ alg: DigestAlgorithm, signature: [UInt8], data: [UInt8]) -> Bool {
        verify(alg, signature: signature, data: data) { context in
            EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PADDING) == 1
        }
    }

    private func verify(
        _ alg: DigestAlgorithm, signature: [UInt8], data: [UInt8], configure: (OpaquePointer?) -> Bool
    ) -> Bool {
        guard let context = EVP_MD_CTX_new() else { return false }
        defer {
            EVP_MD_CTX_free(context)
            _ = CryptoError.drainErrorQueue()
        }
        var keyContext: OpaquePointer?
        guard EVP_DigestVerifyInit(context, &keyContext, alg.evp, nil, handle.pointer) == 1, configure(keyContext)
        else { return false }
        return EVP_DigestVerify(context, signature, signature.count, data, data.count) == 1
    }

    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256 (JWE `RSA-OAEP-256`).
    public func encryptRSAOAEP(sha256 plaintext: SecretBytes) throws -> [UInt8] {
        let context = try PKeyContext(key: handle.pointer)
        guard EVP_PKEY_encrypt_init(context.pointer) == 1,
            EVP_PKEY_CTX_set_rsa_padding(context.pointer, RSA_PKCS1_OAEP_PADDING) == 1,
            EVP_PKEY_CTX_set_rsa_oaep_md(context.pointer, EVP_sha256()) == 1,
            EVP_PKEY_CTX_set_rsa_mgf1_md(context.pointer, EVP_sha256()) == 1
        else { throw CryptoError(.invalidKey, "failed to set up RSA-OAEP encryption (is this an RSA key?)") }
        var length = 0
        let ok = plaintext.withUnsafeBytes { plain -> Bool in
            let input = plain.baseAddress?.assumingMemoryBound(to: UInt8.self)
            guard EVP_PKEY_encrypt(context.pointer, nil, &length, input, plain.count) == 1 else { return false }
            return true
        }
        guard ok else { throw CryptoError(.invalidInput, "failed to encrypt with RSA-OAEP") }
        var out = [UInt8](repeating: 0, count: length)
        let encrypted = plaintext.withUnsafeBytes { plain in
            EVP_PKEY_encrypt(
                context.pointer, &out, &length, plain.baseAddress?.assumingMemoryBound(to: UInt8.self), plain.count)
        }
        guard encrypted == 1 else { throw CryptoError(.invalidInput, "failed to encrypt with RSA-OAEP") }
        return Array(out[0..<length])
    }
}
