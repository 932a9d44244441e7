// SPDX-License-Identifier: Apache-2.0
// Known-answer and behaviour tests of the OpenSSL wrappers.

import Cryptography
import FoundationEssentials
import SecureMemory
import TestSupport
import Testing

func hex(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = Array(text.utf8).filter { $0 != 0x20 }[...]
    while chars.count >= 2 {
        out.append(UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16) ?? 0)
        chars = chars.dropFirst(2)
    }
    return out
}

@Suite("Symmetric primitives (published vectors)")
struct SymmetricTests {
    @Test("SHA-256/384 of 'abc' (FIPS 180-2)")
    func digests() {
        let abc = Array("abc".utf8)
        #expect(
            DigestAlgorithm.sha256.hash(abc) == hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        #expect(
            DigestAlgorithm.sha384.hash(abc)
                == hex(
                    "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"))
    }

    @Test("HMAC-SHA-256 (RFC 4231 test case 2)")
    func hmac() {
        let key = SecretBytes(copying: Array("Jefe".utf8))
        let data = Array("what do ya want for nothing?".utf8)
        let expected = hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(HMAC.authenticationCode(.sha256, key: key, data: data) == expected)
        #expect(HMAC.isValid(.sha256, key: key, data: data, code: expected))
        var wrong = expected
        wrong[31] ^= 1
        #expect(!HMAC.isValid(.sha256, key: key, data: data, code: wrong))
    }

    @Test("HKDF-SHA-256 (RFC 5869 test case 1)")
    func hkdf() throws {
        let okm = try HKDF.derive(
            .sha256, inputKeyMaterial: SecretBytes(copying: [UInt8](repeating: 0x0b, count: 22)),
            salt: hex("000102030405060708090a0b0c"), info: hex("f0f1f2f3f4f5f6f7f8f9"), outputByteCount: 42)
        #expect(
            okm.unsafeCopyToArray()
                == hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"))
    }

    @Test("AES-256-GCM (McGrew-Viega test case 16) and tamper detection")
    func gcm() throws {
        let key = SecretBytes(copying: hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"))
        let nonce = hex("cafebabefacedbaddecaf888")
        let plaintext = hex(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
        )
        let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
        let sealed = try AESGCM.seal(key: key, nonce: nonce, plaintext: SecretBytes(copying: plaintext), aad: aad)
        #expect(
            sealed.ciphertext
                == hex(
                    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
                ))
        #expect(sealed.tag == hex("76fc6ece0f4e1768cddf8853bb2d551b"))
        let opened = try AESGCM.open(key: key, nonce: nonce, ciphertext: sealed.ciphertext, tag: sealed.tag, aad: aad)
        #expect(opened.unsafeCopyToArray() == plaintext)
        var badTag = sealed.tag
        badTag[0] ^= 0x80
        #expect(throws: CryptoError.self) {
            _ = try AESGCM.open(key: key, nonce: nonce, ciphertext: sealed.ciphertext, tag: badTag, aad: aad)
        }
        #expect(throws: CryptoError.self) {
            _ = try AESGCM.open(key: key, nonce: nonce, ciphertext: sealed.ciphertext, tag: sealed.tag, aad: aad + [0])
        }
    }

    @Test("AES key wrap with a 256-bit KEK (RFC 3394 §4.6)")
    func keyWrap() throws {
        let kek = SecretBytes(copying: hex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"))
        let key = hex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
        let wrapped = try AESKeyWrap.wrap(kek: kek, key: SecretBytes(copying: key))
        #expect(wrapped == hex("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"))
        #expect(try AESKeyWrap.unwrap(kek: kek, wrapped: wrapped).unsafeCopyToArray() == key)
        var tampered = wrapped
        tampered[5] ^= 1
        #expect(throws: CryptoError.self) { _ = try AESKeyWrap.unwrap(kek: kek, wrapped: tampered) }
    }
}

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

@Suite("Certificates")
struct CertificateTests {
    @Test("parses AMD's Genoa chain from the corpus: RSA-PSS signatures verify pairwise")
    func corpusChain() throws {
        let chain = try Certificate.parse(pemOrDER: Fixtures.bytes("certs/amd-genoa-vcek-ask-ark.pem"))
        #expect(chain.count >= 2)
        let ark = try #require(chain.last)
        let ask = chain[chain.count - 2]
        #expect(ark.subject.contains("ARK-Genoa"))
        #expect(ark.signatureAlgorithmOID == "1.2.840.113549.1.1.10")
        #expect(ark.isSignature(issuedBy: ark))
        #expect(ask.isSignature(issuedBy: ark))
        #expect(!ark.isSignature(issuedBy: ask))
        var der = ask.der
        der[der.count - 10] ^= 1
        let tampered = try Certificate(der: der)
        #expect(!tampered.isSignature(issuedBy: ark))
    }

    @Test("garbage is a clear error, not a crash")
    func garbage() {
        #expect(throws: CryptoError.self) { _ = try Certificate(der: [0x30, 0x82, 0xFF]) }
        #expect(throws: CryptoError.self) {
            _ = try Certificate.parse(pemOrDER: Array("-----BEGIN CERTIFICATE-----\nAAAA".utf8))
        }
    }

    @Test("a built CA and leaf verify at a time inside validity and fail outside it")
    func builtChain() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let caKey = try PrivateKey.generateRSA(bits: 2048)
        var ca = CertificateBuilder(
            subject: [("CN", "Test Root")], serial: [1], notBefore: now - 3600, notAfter: now + 86400,
            publicKey: caKey.publicKey)
        ca.basicConstraints(ca: true)
        ca.keyUsage(["keyCertSign", "cRLSign"])
        let root = try ca.sign(issuer: [("CN", "Test Root")], key: caKey, alg: .sha384, rsaPSS: true)
        let leafKey = try PrivateKey.generateEC(.p384)
        var leafBuilder = CertificateBuilder(
            subject: [("CN", "leaf")], serial: [0], notBefore: now - 60, notAfter: now + 3600,
            publicKey: leafKey.publicKey)
        leafBuilder.addExtension(oid: "1.3.6.1.4.1.3704.1.3.1", critical: false, derValue: [0x02, 0x01, 0x07])
        leafBuilder.subjectAltNames(ip: ["127.0.0.1"])
        let leaf = try leafBuilder.sign(issuer: [("CN", "Test Root")], key: caKey, alg: .sha384, rsaPSS: true)
        #expect(leaf.extensionValue(oid: "1.3.6.1.4.1.3704.1.3.1") == [0x02, 0x01, 0x07])
        #expect(leaf.serialNumber == [0])
        #expect(ChainVerifier.verify(leaf: leaf, intermediates: [], roots: [root], at: now).isEmpty)
        let expired = ChainVerifier.verify(leaf: leaf, intermediates: [], roots: [root], at: now + 7200)
        #expect(expired.first?.contains("expired") == true)
        #expect(!ChainVerifier.verify(leaf: leaf, intermediates: [], roots: [], at: now).isEmpty)
        #expect(try Certificate.parse(pemOrDER: Array((leaf.pem + root.pem).utf8)).count == 2)
    }
}
