// SPDX-License-Identifier: Apache-2.0
// Flattened JWE as Trustee sends resources: ECDH-ES+A256KW or RSA-OAEP-256 with A256GCM.

import CanonicalJSON
import Cryptography
import SecureMemory

/// A flattened JWE JSON object (RFC 7516 §7.2.2) without `aad`.
public struct JWE: Sendable, Equatable {
    public var protected: String
    public var encryptedKey: [UInt8]
    public var iv: [UInt8]
    public var ciphertext: [UInt8]
    public var tag: [UInt8]

    public init(protected: String, encryptedKey: [UInt8], iv: [UInt8], ciphertext: [UInt8], tag: [UInt8]) {
        self.protected = protected
        self.encryptedKey = encryptedKey
        self.iv = iv
        self.ciphertext = ciphertext
        self.tag = tag
    }

    public var json: JSONValue {
        .object([
            ("protected", .string(protected)), ("encrypted_key", .string(Base64.encodeURL(encryptedKey))),
            ("iv", .string(Base64.encodeURL(iv))), ("ciphertext", .string(Base64.encodeURL(ciphertext))),
            ("tag", .string(Base64.encodeURL(tag))),
        ])
    }

    /// Parses the response body. `aad`, if a broker sends one, is ignored: the AAD is `protected`.
    public init(json: JSONValue) throws {
        func field(_ name: String) throws -> [UInt8] {
            guard let text = json[name]?.stringValue, let bytes = Base64.decodeURL(text) else {
                throw KBSError(.malformedResponse, "the resource response has no valid base64url '\(name)'")
            }
            return bytes
        }
        guard let protected = json["protected"]?.stringValue, !protected.isEmpty else {
            throw KBSError(.malformedResponse, "the resource response is not a JWE (no 'protected')")
        }
        self.protected = protected
        encryptedKey = try field("encrypted_key")
        iv = try field("iv")
        ciphertext = try field("ciphertext")
        tag = try field("tag")
        guard iv.count == 12, tag.count == 16 else {
            throw KBSError(
                .malformedResponse, "the JWE iv must be 12 bytes and the tag 16 (got \(iv.count), \(tag.count))")
        }
    }

    /// The decoded protected header.
    public func header() throws -> JSONValue {
        guard let bytes = Base64.decodeURL(protected), let header = try? JSONValue.parse(bytes) else {
            throw KBSError(.malformedResponse, "the JWE protected header is not base64url JSON")
        }
        return header
    }

    func decrypt(with key: PrivateKey, keyType: TEEKeyType) throws -> SecretBytes {
        let header = try header()
        guard header["enc"]?.stringValue == "A256GCM" else {
            throw KBSError(.decryptionFailed, "the JWE content encryption is not A256GCM")
        }
        let alg = header["alg"]?.stringValue ?? ""
        guard alg == keyType.jweAlgorithm else {
            throw KBSError(.decryptionFailed, "the JWE uses '\(alg)' but our key needs '\(keyType.jweAlgorithm)'")
        }
        let cek: SecretBytes
        do {
            switch keyType {
            case .p256, .p521:
                guard let epkJSON = header["epk"], let crv = epkJSON["crv"]?.stringValue,
                    crv == (keyType == .p256 ? "P-256" : "P-521")
                else {
                    throw KBSError(
                        .decryptionFailed, "the JWE's ephemeral key is missing or on another curve than ours")
                }
                let epk = try TEEPublicJWK(
                    json: .object([
                        ("kty", .string("EC")), ("crv", .string(crv)), ("alg", .string("ECDH-ES+A256KW")),
                        ("x", epkJSON["x"] ?? .null), ("y", epkJSON["y"] ?? .null),
                    ]))
                let z = try key.ecdh(with: epk.key)
                let kek = ConcatKDF.derive(sharedSecret: z, algorithm: "ECDH-ES+A256KW", keyBits: 256)
                cek = try AESKeyWrap.unwrap(kek: kek, wrapped: encryptedKey)
            case .rsa:
                cek = try key.decryptRSAOAEP(sha256: encryptedKey)
            }
            return try AESGCM.open(key: cek, nonce: iv, ciphertext: ciphertext, tag: tag, aad: Array(protected.utf8))
        } catch let error as KBSError {
            throw error
        } catch {
            throw KBSError(.decryptionFailed, "failed to decrypt the resource: \(error)")
        }
    }

    /// Encrypts `plaintext` to `recipient` (the broker side).
    public static func encrypt(_ plaintext: SecretBytes, to recipient: TEEPublicJWK) throws -> JWE {
        let cek = SecureRandom.secret(32)
        let iv = SecureRandom.bytes(12)
        let header: JSONValue
        let encryptedKey: [UInt8]
        if let (curve, _, _) = recipient.key.ecCoordinates {
            let ephemeral = try PrivateKey.generateEC(curve)
            let epk = try TEEPublicJWK(key: ephemeral.publicKey)
            let z = try ephemeral.ecdh(with: recipient.key)
            let kek = ConcatKDF.derive(sharedSecret: z, algorithm: "ECDH-ES+A256KW", keyBits: 256)
            encryptedKey = try AESKeyWrap.wrap(kek: kek, key: cek)
            header = .object([
                ("alg", .string("ECDH-ES+A256KW")), ("enc", .string("A256GCM")),
                (
                    "epk",
                    .object([
                        ("crv", epk.json["crv"] ?? .null), ("kty", .string("EC")), ("x", epk.json["x"] ?? .null),
                        ("y", epk.json["y"] ?? .null),
                    ])
                ),
            ])
        } else {
            encryptedKey = try recipient.key.encryptRSAOAEP(sha256: cek)
            header = .object([("alg", .string("RSA-OAEP-256")), ("enc", .string("A256GCM"))])
        }
        let protected = Base64.encodeURL(header.serializedBytes())
        let sealed = try AESGCM.seal(key: cek, nonce: iv, plaintext: plaintext, aad: Array(protected.utf8))
        return JWE(
            protected: protected, encryptedKey: encryptedKey, iv: iv, ciphertext: sealed.ciphertext, tag: sealed.tag)
    }
}

/// The Concat KDF of RFC 7518 §4.6.2 (NIST SP 800-56A) with SHA-256, no PartyUInfo/PartyVInfo.
public enum ConcatKDF {
    /// Derives `keyBits / 8` bytes from `z`. Every round's digest goes straight into zeroizing memory,
    /// and `z` is hashed in place: no array ever holds the shared secret or the derived key.
    public static func derive(sharedSecret z: SecretBytes, algorithm: String, keyBits: Int) -> SecretBytes {
        func be32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
        let algorithmID = Array(algorithm.utf8)
        let otherInfo = be32(algorithmID.count) + algorithmID + be32(0) + be32(0) + be32(keyBits)
        let byteCount = max(0, keyBits / 8)
        let roundBytes = DigestAlgorithm.sha256.outputByteCount
        return SecretBytes(count: byteCount) { out in
            var offset = 0
            var counter = 1
            while offset < byteCount {
                let round = DigestAlgorithm.sha256.secretHash([.bytes(be32(counter)), .secret(z), .bytes(otherInfo)])
                let take = min(roundBytes, byteCount - offset)
                round.withUnsafeBytes { digest in
                    UnsafeMutableRawBufferPointer(rebasing: out[offset..<offset + take])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: digest[0..<take]))
                }
                offset += take
                counter += 1
            }
        }
    }
}
