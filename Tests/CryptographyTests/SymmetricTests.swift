// SPDX-License-Identifier: Apache-2.0
// Known-answer tests of the symmetric primitives against published vectors (FIPS 180, RFC 4231, RFC 5869,
// McGrew-Viega GCM, RFC 3394).

import Cryptography
import SecureMemory
import Testing

/// One RFC 4231 HMAC test case: key, data and the SHA-256/384/512 codes.
struct HMACVector: Sendable, CustomTestStringConvertible {
    var name: String
    var key: [UInt8]
    var data: [UInt8]
    var codes: [DigestAlgorithm: String]
    var testDescription: String { name }
}

let rfc4231: [HMACVector] = [
    HMACVector(
        name: "test case 1", key: [UInt8](repeating: 0x0b, count: 20), data: Array("Hi There".utf8),
        codes: [
            .sha256: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            .sha384: "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
            .sha512: "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
                + "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        ]),
    HMACVector(
        name: "test case 2", key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8),
        codes: [.sha256: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"]),
    HMACVector(
        name: "test case 3", key: [UInt8](repeating: 0xaa, count: 20), data: [UInt8](repeating: 0xdd, count: 50),
        codes: [
            .sha256: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            .sha384: "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27",
            .sha512: "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
                + "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
        ]),
    HMACVector(
        name: "test case 6 (key longer than a block)", key: [UInt8](repeating: 0xaa, count: 131),
        data: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
        codes: [
            .sha256: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            .sha384: "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
            .sha512: "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
                + "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
        ]),
    HMACVector(
        name: "test case 7 (key and data longer than a block)", key: [UInt8](repeating: 0xaa, count: 131),
        data: Array(
            ("This is a test using a larger than block-size key and a larger than block-size data. "
                + "The key needs to be hashed before being used by the HMAC algorithm.").utf8),
        codes: [
            .sha256: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            .sha384: "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e",
            .sha512: "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
                + "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
        ]),
]

@Suite("Digests and MACs (published vectors)")
struct DigestTests {
    @Test("SHA-256/384/512 of 'abc' and of the empty string (FIPS 180-2)")
    func digests() {
        let abc = Array("abc".utf8)
        #expect(
            DigestAlgorithm.sha256.hash(abc) == hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        #expect(
            DigestAlgorithm.sha384.hash(abc)
                == hex(
                    "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"))
        #expect(
            DigestAlgorithm.sha512.hash(abc)
                == hex(
                    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                        + "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"))
        #expect(
            DigestAlgorithm.sha256.hash([UInt8]())
                == hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
        // A non-contiguous collection hashes like its bytes.
        #expect(DigestAlgorithm.sha256.hash(abc.lazy.map { $0 }) == DigestAlgorithm.sha256.hash(abc))
        #expect(DigestAlgorithm.allCases.map(\.outputByteCount) == [32, 48, 64, 32])
    }

    @Test("HMAC matches RFC 4231", arguments: rfc4231)
    func hmac(vector: HMACVector) {
        let key = SecretBytes(copying: vector.key)
        for (alg, code) in vector.codes {
            let expected = hex(code)
            #expect(HMAC.authenticationCode(alg, key: key, data: vector.data) == expected, "\(alg)")
            #expect(HMAC.isValid(alg, key: key, data: vector.data, code: expected))
            var wrong = expected
            wrong[wrong.count - 1] ^= 1
            #expect(!HMAC.isValid(alg, key: key, data: vector.data, code: wrong))
            #expect(!HMAC.isValid(alg, key: key, data: vector.data, code: Array(expected.dropLast())))
        }
    }

    @Test("HMAC accepts an empty key (RFC 2104 pads it with zeros)")
    func hmacEmptyKey() {
        let code = HMAC.authenticationCode(.sha256, key: SecretBytes(copying: []), data: [])
        // HMAC-SHA-256("", "") — equal to a key of one zero byte, which pads to the same block.
        #expect(code == hex("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"))
        #expect(code == HMAC.authenticationCode(.sha256, key: SecretBytes(copying: [0]), data: []))
    }

    @Test("HKDF-SHA-256 matches RFC 5869 test cases 1, 2 and 3")
    func hkdf() throws {
        let case1 = try HKDF.derive(
            .sha256, inputKeyMaterial: SecretBytes(copying: [UInt8](repeating: 0x0b, count: 22)),
            salt: hex("000102030405060708090a0b0c"), info: hex("f0f1f2f3f4f5f6f7f8f9"), outputByteCount: 42)
        #expect(
            case1.unsafeCopyToArray()
                == hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"))
        let case2 = try HKDF.derive(
            .sha256, inputKeyMaterial: SecretBytes(copying: (0x00...0x4f).map { UInt8($0) }),
            salt: (0x60...0xaf).map { UInt8($0) }, info: (0xb0...0xff).map { UInt8($0) }, outputByteCount: 82)
        #expect(
            case2.unsafeCopyToArray()
                == hex(
                    "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
                        + "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
                        + "cc30c58179ec3e87c14c01d5c1f3434f1d87"))
        let case3 = try HKDF.derive(
            .sha256, inputKeyMaterial: SecretBytes(copying: [UInt8](repeating: 0x0b, count: 22)), salt: [], info: [],
            outputByteCount: 42)
        #expect(
            case3.unsafeCopyToArray()
                == hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"))
    }

    @Test("HKDF refuses lengths it cannot produce and empty key material")
    func hkdfLimits() {
        let ikm = SecretBytes(copying: [1, 2, 3])
        #expect(throws: CryptoError.self) {
            _ = try HKDF.derive(.sha256, inputKeyMaterial: ikm, salt: [], info: [], outputByteCount: 255 * 32 + 1)
        }
        #expect(throws: CryptoError.self) {
            _ = try HKDF.derive(.sha256, inputKeyMaterial: ikm, salt: [], info: [], outputByteCount: 0)
        }
        #expect(throws: CryptoError.self) {
            _ = try HKDF.derive(
                .sha256, inputKeyMaterial: SecretBytes(copying: []), salt: [], info: [], outputByteCount: 32)
        }
    }

    @Test("SecureRandom returns the requested number of bytes, not all equal")
    func random() {
        let a = SecureRandom.bytes(32)
        let b = SecureRandom.bytes(32)
        #expect(a.count == 32 && b.count == 32 && a != b)
        #expect(SecureRandom.secret(48).count == 48)
        #expect(SecureRandom.bytes(0).isEmpty)
    }
}

@Suite("AES-GCM and AES key wrap (published vectors)")
struct CipherTests {
    @Test("AES-256-GCM matches McGrew-Viega test cases 13 and 14")
    func gcmZeroKey() throws {
        let key = SecretBytes(copying: [UInt8](repeating: 0, count: 32))
        let nonce = [UInt8](repeating: 0, count: 12)
        let empty = try AESGCM.seal(key: key, nonce: nonce, plaintext: SecretBytes(copying: []), aad: [])
        #expect(empty.ciphertext.isEmpty && empty.tag == hex("530f8afbc74536b9a963b4f1c4cb738b"))
        let block = try AESGCM.seal(
            key: key, nonce: nonce, plaintext: SecretBytes(copying: [UInt8](repeating: 0, count: 16)), aad: [])
        #expect(block.ciphertext == hex("cea7403d4d606b6e074ec5d3baf39d18"))
        #expect(block.tag == hex("d0d1c8a799996bf0265b98b5d48ab919"))
        #expect(
            try AESGCM.open(key: key, nonce: nonce, ciphertext: [], tag: empty.tag, aad: []).count == 0)
    }

    @Test("AES-256-GCM matches McGrew-Viega test case 16 and detects tampering")
    func gcm() throws {
        let key = SecretBytes(copying: hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"))
        let nonce = hex("cafebabefacedbaddecaf888")
        let plaintext = hex(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                + "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
        let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
        let sealed = try AESGCM.seal(key: key, nonce: nonce, plaintext: SecretBytes(copying: plaintext), aad: aad)
        #expect(
            sealed.ciphertext
                == hex(
                    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                        + "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"))
        #expect(sealed.tag == hex("76fc6ece0f4e1768cddf8853bb2d551b"))
        let opened = try AESGCM.open(key: key, nonce: nonce, ciphertext: sealed.ciphertext, tag: sealed.tag, aad: aad)
        #expect(opened.unsafeCopyToArray() == plaintext)
        var badTag = sealed.tag
        badTag[0] ^= 0x80
        var badCiphertext = sealed.ciphertext
        badCiphertext[7] ^= 0x01
        var badNonce = nonce
        badNonce[11] ^= 0x01
        let attempts: [() throws -> SecretBytes] = [
            { try AESGCM.open(key: key, nonce: nonce, ciphertext: sealed.ciphertext, tag: badTag, aad: aad) },
            { try AESGCM.open(key: key, nonce: nonce, ciphertext: badCiphertext, tag: sealed.tag, aad: aad) },
            { try AESGCM.open(key: key, nonce: badNonce, ciphertext: sealed.ciphertext, tag: sealed.tag, aad: aad) },
            { try AESGCM.open(key: key, nonce: nonce, ciphertext: sealed.ciphertext, tag: sealed.tag, aad: aad + [0]) },
            { try AESGCM.open(key: key, nonce: nonce, ciphertext: sealed.ciphertext, tag: [1, 2, 3], aad: aad) },
        ]
        for attempt in attempts {
            let error = #expect(throws: CryptoError.self) { _ = try attempt() }
            #expect(error?.code == .authenticationFailed)
        }
    }

    @Test("AES-GCM refuses a wrong-size key or nonce")
    func gcmParameters() {
        #expect(throws: CryptoError.self) {
            _ = try AESGCM.seal(
                key: SecretBytes(copying: [UInt8](repeating: 0, count: 16)), nonce: [UInt8](repeating: 0, count: 12),
                plaintext: SecretBytes(copying: [1]), aad: [])
        }
        #expect(throws: CryptoError.self) {
            _ = try AESGCM.seal(
                key: SecretBytes(copying: [UInt8](repeating: 0, count: 32)), nonce: [UInt8](repeating: 0, count: 8),
                plaintext: SecretBytes(copying: [1]), aad: [])
        }
    }

    @Test("AES key wrap matches RFC 3394 §4.1, §4.3 and §4.6 and detects tampering")
    func keyWrap() throws {
        let kek128 = SecretBytes(copying: hex("000102030405060708090A0B0C0D0E0F"))
        let kek256 = SecretBytes(copying: hex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"))
        let key128 = hex("00112233445566778899AABBCCDDEEFF")
        let key256 = hex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
        let cases: [(SecretBytes, [UInt8], [UInt8])] = [
            (kek128, key128, hex("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5")),  // §4.1
            (kek256, key128, hex("64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7")),  // §4.3
            // §4.6
            (kek256, key256, hex("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21")),
        ]
        for (kek, key, expected) in cases {
            let wrapped = try AESKeyWrap.wrap(kek: kek, key: SecretBytes(copying: key))
            #expect(wrapped == expected)
            #expect(try AESKeyWrap.unwrap(kek: kek, wrapped: wrapped).unsafeCopyToArray() == key)
            var tampered = wrapped
            tampered[5] ^= 1
            let error = #expect(throws: CryptoError.self) { _ = try AESKeyWrap.unwrap(kek: kek, wrapped: tampered) }
            #expect(error?.code == .authenticationFailed)
        }
        #expect(throws: CryptoError.self) { _ = try AESKeyWrap.unwrap(kek: kek128, wrapped: [1, 2, 3]) }
        #expect(throws: CryptoError.self) {
            _ = try AESKeyWrap.wrap(kek: SecretBytes(copying: [1, 2, 3]), key: SecretBytes(copying: key128))
        }
    }
}
