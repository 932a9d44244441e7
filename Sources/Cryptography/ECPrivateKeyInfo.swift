// SPDX-License-Identifier: Apache-2.0
// An unencrypted PKCS#8 EC private key (RFC 5208 / RFC 5915) read field by field and imported with
// EVP_PKEY_fromdata, instead of OpenSSL 3's decoder chain (which tries every decoder it has: ~5 M
// instructions and much of libcrypto's code touched per key). Anything this reader does not recognise
// exactly returns nil, and the caller falls back to PEM_read_bio_PrivateKey.

import COpenSSL
import SecureMemory

enum ECPrivateKeyInfo {
    /// `EVP_PKEY_KEYPAIR` (a composite macro Swift cannot import): public key, private key, parameters.
    static let selectKeyPair: Int32 = 0x87

    /// The key, or nil when `pem` is not one unencrypted PKCS#8 EC key on a curve of ``Curve``.
    static func key(pem: SecretBytes) -> OpaquePointer? {
        pem.withUnsafeBytes { bytes -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(bytes.baseAddress, Int32(bytes.count)) else { return nil }
            defer { BIO_free(bio) }
            var name: UnsafeMutablePointer<CChar>?
            var header: UnsafeMutablePointer<CChar>?
            var data: UnsafeMutablePointer<UInt8>?
            var length = 0
            // PEM_read_bio only strips the armour and decodes base64; no decoder is involved.
            guard PEM_read_bio(bio, &name, &header, &data, &length) == 1 else {
                ERR_clear_error()
                return nil
            }
            defer {
                if let data {
                    OPENSSL_cleanse(data, length)
                    CRYPTO_free(data, nil, 0)
                }
                CRYPTO_free(name, nil, 0)
                CRYPTO_free(header, nil, 0)
            }
            guard let name, String(cString: name) == "PRIVATE KEY", let data,
                let header, header.pointee == 0
            else { return nil }
            return key(der: UnsafeRawBufferPointer(start: data, count: length))
        }
    }

    /// The key from PrivateKeyInfo DER, or nil.
    static func key(der: UnsafeRawBufferPointer) -> OpaquePointer? {
        guard let fields = parse(der) else { return nil }
        return fromData(curve: fields.curve, privateKey: fields.privateKey, publicKey: fields.publicKey)
    }

    /// The curve, the private scalar and the uncompressed public point of PrivateKeyInfo DER (slices of
    /// `der`), or nil when it is anything else (other algorithm or curve, missing public key, trailing bytes).
    static func parse(
        _ der: UnsafeRawBufferPointer
    ) -> (curve: Curve, privateKey: UnsafeRawBufferPointer, publicKey: UnsafeRawBufferPointer)? {
        var outer = DERReader(der)
        guard var info = outer.enter(tag: 0x30), outer.isAtEnd,
            let version = info.read(tag: 0x02), version.count == 1, version[0] == 0,
            var algorithm = info.enter(tag: 0x30),
            let algorithmOID = algorithm.read(tag: 0x06), equal(algorithmOID, ecPublicKeyOID),
            let curveOID = algorithm.read(tag: 0x06), algorithm.isAtEnd,
            let curve = curves.first(where: { equal(curveOID, $0.oid) })?.curve,
            let wrapped = info.read(tag: 0x04)
        else { return nil }
        // Optional attributes ([0]) may follow; nothing else.
        if !info.isAtEnd {
            let attributes: UnsafeRawBufferPointer? = info.read(tag: 0xA0)
            guard attributes != nil, info.isAtEnd else { return nil }
        }
        var inner = DERReader(wrapped)
        guard var ecKey = inner.enter(tag: 0x30), inner.isAtEnd,
            let ecVersion = ecKey.read(tag: 0x02), ecVersion.count == 1, ecVersion[0] == 1,
            let scalar = ecKey.read(tag: 0x04), scalar.count > 0, scalar.count <= curve.coordinateByteCount
        else { return nil }
        var publicKey: UnsafeRawBufferPointer?
        while !ecKey.isAtEnd {
            guard let (tag, content) = ecKey.readAny() else { return nil }
            switch tag {
            case 0xA0:
                // The parameters, when repeated here, must name the same curve.
                var parameters = DERReader(content)
                guard let oid = parameters.read(tag: 0x06), parameters.isAtEnd, equal(oid, curveOIDBytes(curve))
                else { return nil }
            case 0xA1:
                var explicit = DERReader(content)
                guard let bits = explicit.read(tag: 0x03), explicit.isAtEnd,
                    bits.count == 2 + 2 * curve.coordinateByteCount,
                    bits[0] == 0, bits[1] == 0x04
                else { return nil }
                publicKey = UnsafeRawBufferPointer(rebasing: bits[1...])
            default:
                return nil
            }
        }
        guard let publicKey else { return nil }
        return (curve, scalar, publicKey)
    }

    /// Imports group, private scalar and public point with `EVP_PKEY_fromdata`. The scalar is a secure
    /// BIGNUM, so the parameter builder keeps it in a separate secure block, which OSSL_PARAM_free clears
    /// (OpenSSL 3.0 has no OSSL_PARAM_clear_free).
    static func fromData(
        curve: Curve, privateKey: UnsafeRawBufferPointer, publicKey: UnsafeRawBufferPointer
    ) -> OpaquePointer? {
        guard let builder = OSSL_PARAM_BLD_new() else { return nil }
        defer { OSSL_PARAM_BLD_free(builder) }
        guard let scalar = BN_secure_new() else { return nil }
        defer { BN_clear_free(scalar) }
        guard
            BN_bin2bn(privateKey.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(privateKey.count), scalar)
                != nil,
            // The builder keeps keys and the group name by reference until OSSL_PARAM_BLD_to_param, hence
            // static strings (a Swift String's C form would not outlive the push call).
            OSSL_PARAM_BLD_push_utf8_string(builder, cString("group"), groupName(curve), 0) == 1,
            OSSL_PARAM_BLD_push_BN(builder, cString("priv"), scalar) == 1,
            OSSL_PARAM_BLD_push_octet_string(builder, cString("pub"), publicKey.baseAddress, publicKey.count) == 1,
            let parameters = OSSL_PARAM_BLD_to_param(builder)
        else { return nil }
        defer { OSSL_PARAM_free(parameters) }
        guard let context = try? PKeyContext(name: "EC"), EVP_PKEY_fromdata_init(context.pointer) == 1 else {
            return nil
        }
        var key: OpaquePointer?
        guard EVP_PKEY_fromdata(context.pointer, &key, selectKeyPair, parameters) == 1 else {
            ERR_clear_error()
            return nil
        }
        return key
    }

    /// OpenSSL's group name as a static C string (``Curve/groupName`` as a `String` would be temporary).
    static func groupName(_ curve: Curve) -> UnsafePointer<CChar> {
        switch curve {
        case .p256: cString("prime256v1")
        case .p384: cString("secp384r1")
        case .p521: cString("secp521r1")
        }
    }

    static let ecPublicKeyOID: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
    static let curves: [(curve: Curve, oid: [UInt8])] = [
        (.p256, [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]),
        (.p384, [0x2B, 0x81, 0x04, 0x00, 0x22]),
        (.p521, [0x2B, 0x81, 0x04, 0x00, 0x23]),
    ]

    static func curveOIDBytes(_ curve: Curve) -> [UInt8] {
        curves.first { $0.curve == curve }?.oid ?? []
    }

    static func equal(_ bytes: UnsafeRawBufferPointer, _ expected: [UInt8]) -> Bool {
        bytes.count == expected.count && zip(bytes, expected).allSatisfy { $0 == $1 }
    }
}

/// A bounds-checked reader of DER tag-length-value items (single-byte tags, definite lengths up to
/// 2^24), over bytes it does not copy.
struct DERReader {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    /// The next item's tag and content, or nil (malformed, or past the end).
    mutating func readAny() -> (tag: UInt8, content: UnsafeRawBufferPointer)? {
        guard bytes.count - offset >= 2 else { return nil }
        let tag = bytes[offset]
        var cursor = offset + 1
        var length = Int(bytes[cursor])
        cursor += 1
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count >= 1, count <= 3, bytes.count - cursor >= count else { return nil }
            length = 0
            for _ in 0..<count {
                length = length << 8 | Int(bytes[cursor])
                cursor += 1
            }
            // DER: the shortest length form only.
            guard length >= 0x80, length >> (8 * (count - 1)) != 0 else { return nil }
        }
        guard bytes.count - cursor >= length else { return nil }
        offset = cursor + length
        return (tag, UnsafeRawBufferPointer(rebasing: bytes[cursor..<(cursor + length)]))
    }

    /// A reader over the next item's content if its tag is `tag` (a SEQUENCE), else nil.
    mutating func enter(tag expected: UInt8) -> DERReader? {
        let content: UnsafeRawBufferPointer? = read(tag: expected)
        return content.map(DERReader.init)
    }

    /// The next item's content if its tag is `tag`, else nil (and nothing is consumed).
    mutating func read(tag expected: UInt8) -> UnsafeRawBufferPointer? {
        let saved = offset
        guard let (tag, content) = readAny(), tag == expected else {
            offset = saved
            return nil
        }
        return content
    }
}
