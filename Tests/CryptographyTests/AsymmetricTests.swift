// SPDX-License-Identifier: Apache-2.0
// ECDSA, RSA-PSS, RSA-OAEP and ECDH over generated keys: round trips and tamper detection.

import Cryptography
import SecureMemory
import Testing

@Suite("Asymmetric keys")
struct AsymmetricTests {
    @Test("ECDSA signs and verifies on every curve; a flipped bit fails", arguments: Curve.allCases)
    func ecdsa(curve: Curve) throws {
        let key = try PrivateKey.generateEC(curve)
        let data = Array("attest me".utf8)
        let (r, s) = try key.signECDSA(.sha384, data: data)
        #expect(r.count == curve.coordinateByteCount && s.count == curve.coordinateByteCount)
        #expect(key.publicKey.verifyECDSA(.sha384, r: r, s: s, data: data))
        var flipped = data
        flipped[0] ^= 1
        #expect(!key.publicKey.verifyECDSA(.sha384, r: r, s: s, data: flipped))
        var badR = r
        badR[badR.count / 2] ^= 0x10
        #expect(!key.publicKey.verifyECDSA(.sha384, r: badR, s: s, data: data))
        #expect(!key.publicKey.verifyECDSA(.sha256, r: r, s: s, data: data))
        #expect(try !PrivateKey.generateEC(curve).publicKey.verifyECDSA(.sha384, r: r, s: s, data: data))
        let der = try key.signECDSADER(.sha512, data: data)
        #expect(key.publicKey.verifyECDSA(.sha512, signatureDER: der, data: data))
        #expect(!key.publicKey.verifyECDSA(.sha512, signatureDER: Array(der.dropLast()), data: data))
        let coordinates = try #require(key.publicKey.ecCoordinates)
        let rebuilt = try PublicKey(curve: curve, x: coordinates.x, y: coordinates.y)
        #expect(rebuilt.spkiDER == key.publicKey.spkiDER)
    }

    @Test("a point that is not on the curve is refused")
    func invalidPoint() {
        #expect(throws: CryptoError.self) {
            _ = try PublicKey(
                curve: .p256, x: [UInt8](repeating: 1, count: 32), y: [UInt8](repeating: 2, count: 32))
        }
    }

    @Test("ECDH agrees between two parties and refuses a key on another curve")
    func ecdh() throws {
        let alice = try PrivateKey.generateEC(.p256)
        let bob = try PrivateKey.generateEC(.p256)
        let z1 = try alice.ecdh(with: bob.publicKey)
        let z2 = try bob.ecdh(with: alice.publicKey)
        #expect(z1.constantTimeEquals(z2) && z1.count == 32)
        #expect(throws: CryptoError.self) { _ = try alice.ecdh(with: PrivateKey.generateEC(.p384).publicKey) }
    }

    @Test("RSA-PSS and RSA-OAEP-256 round trips; PEM export and import")
    func rsa() throws {
        let key = try PrivateKey.generateRSA(bits: 2048)
        let data = Array("chain".utf8)
        let signature = try key.signRSAPSS(.sha384, data: data, saltLength: 48)
        #expect(key.publicKey.verifyRSAPSS(.sha384, signature: signature, data: data, saltLength: 48))
        #expect(!key.publicKey.verifyRSAPSS(.sha384, signature: signature, data: data + [1], saltLength: 48))
        var badSignature = signature
        badSignature[100] ^= 0x01
        #expect(!key.publicKey.verifyRSAPSS(.sha384, signature: badSignature, data: data, saltLength: 48))
        #expect(!key.publicKey.verifyRSAPSS(.sha384, signature: signature, data: data, saltLength: 32))
        #expect(!key.publicKey.verifyECDSA(.sha384, signatureDER: signature, data: data))
        let secret = SecretBytes(copying: [UInt8](repeating: 7, count: 32))
        let encrypted = try key.publicKey.encryptRSAOAEP(sha256: secret)
        #expect(try key.decryptRSAOAEP(sha256: encrypted).constantTimeEquals(secret))
        let reloaded = try PrivateKey(pem: key.pemPKCS8())
        #expect(reloaded.publicKey.spkiDER == key.publicKey.spkiDER)
        let components = try #require(key.publicKey.rsaComponents)
        let rebuilt = try PublicKey(rsaModulus: components.modulus, exponent: components.exponent)
        #expect(rebuilt.spkiDER == key.publicKey.spkiDER)
    }
}
