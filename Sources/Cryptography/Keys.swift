// SPDX-License-Identifier: Apache-2.0
// EC (P-256/384/521) and RSA keys over OpenSSL's EVP_PKEY: import, export, sign, verify, ECDH, OAEP.

import COpenSSL
import SecureMemory

/// The NIST curves the agent speaks.
public enum Curve: String, Sendable, CaseIterable {
    case p256 = "P-256"
    case p384 = "P-384"
    case p521 = "P-521"

    /// Bytes of one affine coordinate (and of r and s in a signature).
    public var coordinateByteCount: Int {
        switch self {
        case .p256: 32
        case .p384: 48
        case .p521: 66
        }
    }

    /// OpenSSL's group name.
    var groupName: String {
        switch self {
        case .p256: "prime256v1"
        case .p384: "secp384r1"
        case .p521: "secp521r1"
        }
    }

    init?(groupName: String) {
        switch groupName {
        case "prime256v1", "P-256", "secp256r1": self = .p256
        case "secp384r1", "P-384": self = .p384
        case "secp521r1", "P-521": self = .p521
        default: return nil
        }
    }
}

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

/// `EVP_PKEY_PUBLIC_KEY` (OSSL_KEYMGMT_SELECT_ALL_PARAMETERS 0x84 | OSSL_KEYMGMT_SELECT_PUBLIC_KEY 0x02);
/// a composite macro Swift cannot import.
private let selectPublicKey: Int32 = 0x86

/// A NUL-terminated C string with static lifetime (for OSSL_PARAM keys, which OpenSSL keeps by reference).
private func cString(_ text: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}

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

    /// Parses a PEM private key (PKCS#8 or traditional, unencrypted). Calls `PEM_read_bio_PrivateKey`.
    public convenience init(pem: SecretBytes) throws {
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

    /// Signs with ECDSA and returns fixed-width big-endian r and s.
    public func signECDSA(_ alg: DigestAlgorithm, data: [UInt8]) throws -> (r: [UInt8], s: [UInt8]) {
        guard let curve = publicKey.ecCoordinates?.curve else {
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
        guard let mine = publicKey.ecCoordinates?.curve, let theirs = peer.ecCoordinates?.curve, mine == theirs else {
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

/// Standard base64 (RFC 4648 §4) for PEM; the protocol modules use FoundationEssentials' Data.
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
