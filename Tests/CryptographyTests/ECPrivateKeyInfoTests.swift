// SPDX-License-Identifier: Apache-2.0
// PKCS#8 EC private keys read without OpenSSL's decoders: the same key as the decoder path, and every
// deviation from the exact form refused (the caller then falls back to the decoders).

import SecureMemory
import Testing

@testable import Cryptography

@Suite("PKCS#8 EC keys without the decoder chain")
struct ECPrivateKeyInfoTests {
    /// The DER inside a PEM's armour.
    static func der(_ pem: SecretBytes) -> [UInt8] {
        let text = String(decoding: pem.unsafeCopyToArray(), as: UTF8.self)
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var bits = 0
        var count = 0
        var out: [UInt8] = []
        for character in body.utf8 where character != UInt8(ascii: "=") {
            guard let value = alphabet.firstIndex(of: character) else { continue }
            bits = bits << 6 | value
            count += 6
            if count >= 8 {
                count -= 8
                out.append(UInt8((bits >> count) & 0xFF))
            }
        }
        return out
    }

    static func parses(_ der: [UInt8]) -> Bool {
        der.withUnsafeBytes { ECPrivateKeyInfo.parse($0) != nil }
    }

    @Test("a PKCS#8 EC key imports without decoders as the same key, on every curve", arguments: Curve.allCases)
    func sameKey(curve: Curve) throws {
        let key = try PrivateKey.generateEC(curve)
        let pem = try key.pemPKCS8()
        let fast = try #require(ECPrivateKeyInfo.key(pem: pem))
        let imported = PrivateKey(handle: PKeyHandle(fast))
        #expect(imported.publicKey.spkiDER == key.publicKey.spkiDER)
        #expect(imported.curve == curve)
        let data = Array("report".utf8)
        let (r, s) = try imported.signECDSA(.sha384, data: data)
        #expect(key.publicKey.verifyECDSA(.sha384, r: r, s: s, data: data))
        // Through the public initializer too, and ECDH agrees with the original key.
        let reloaded = try PrivateKey(pem: pem)
        let peer = try PrivateKey.generateEC(curve)
        #expect(try reloaded.ecdh(with: peer.publicKey).constantTimeEquals(key.ecdh(with: peer.publicKey)))
    }

    @Test("anything but the exact form is left to the decoders: curve, algorithm, version, lengths, trailing bytes")
    func deviations() throws {
        let der = Self.der(try PrivateKey.generateEC(.p256).pemPKCS8())
        #expect(Self.parses(der))
        // The prime256v1 OID's last byte (07) changed: an unknown curve.
        let curveOID: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
        let curveAt = try #require(
            (0...(der.count - curveOID.count)).first { Array(der[$0..<($0 + curveOID.count)]) == curveOID })
        var otherCurve = der
        otherCurve[curveAt + curveOID.count - 1] = 0x08
        #expect(!Self.parses(otherCurve))
        // ecPublicKey (…3D 02 01) changed to another algorithm.
        var otherAlgorithm = der
        otherAlgorithm[curveAt - 3] = 0x09
        #expect(!Self.parses(otherAlgorithm))
        // PrivateKeyInfo version 1 instead of 0.
        let versionAt = der[1] == 0x81 ? 5 : 4
        var version = der
        #expect(version[versionAt] == 0)
        version[versionAt] = 1
        #expect(!Self.parses(version))
        #expect(!Self.parses(der + [0]))
        #expect(!Self.parses(Array(der.dropLast())))
        #expect(!Self.parses([]))
        #expect(!Self.parses([0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]))
        // A long-form length where the short form fits is not DER.
        #expect(!Self.parses([0x30, 0x81, 0x03, 0x02, 0x01, 0x00]))
    }

    @Test("an RSA key and a traditional EC PEM fall back to the decoders and still load")
    func fallback() throws {
        let rsa = try PrivateKey.generateRSA(bits: 2048)
        #expect(ECPrivateKeyInfo.key(pem: try rsa.pemPKCS8()) == nil)
        #expect(try PrivateKey(pem: rsa.pemPKCS8()).publicKey.spkiDER == rsa.publicKey.spkiDER)
        let garbage = SecretBytes(copying: Array("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".utf8))
        #expect(ECPrivateKeyInfo.key(pem: garbage) == nil)
        #expect(throws: (any Error).self) { _ = try PrivateKey(pem: garbage) }
    }
}
