// SPDX-License-Identifier: Apache-2.0
// The JCS, hash and JWE vectors of kbs-protocol.md §2.1 and §4, reproduced exactly.

import AgentBase
import CanonicalJSON
import Cryptography
import KBSProtocol
import SecureMemory
import TEEEvidence
import TestSupport
import Testing

enum Vectors {
    /// The §2.1 client key: P-256 scalar a9cc…0d90, as a SEC1 PEM (OpenSSL derives the public point).
    static func clientKey() throws -> TEEKeyPair {
        let d = Hex.decode("a9cc696897fde1d3c3350d289c36d43734c412497b3aa4507d878048c4990d90") ?? []
        let der: [UInt8] =
            [0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20] + d
            + [0xA0, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
        let pem = "-----BEGIN EC PRIVATE KEY-----\n\(Base64.encode(der))\n-----END EC PRIVATE KEY-----\n"
        return try TEEKeyPair(privateKey: PrivateKey(pem: SecretBytes(copying: Array(pem.utf8))), type: .p256)
    }

    static let nonce = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
}

@Suite("KBS protocol vectors (kbs-protocol.md)")
struct ProtocolVectorTests {
    @Test("§2.1: the tee-pubkey JWK, the JCS runtime data and its SHA-384/SHA-512 digests")
    func runtimeData() throws {
        let key = try Vectors.clientKey()
        #expect(
            key.publicJWK.json.canonicalString
                == #"{"alg":"ECDH-ES+A256KW","crv":"P-256","kty":"EC","x":"slvwXoJUO964jOFAWdq0yCdwyNQK02w8RBUhXQ7LifQ","y":"Z7HMsGXPksLB09GLi_NrSvx9LHHjK13kbd4KErjAr8M"}"#
        )
        let runtime = RuntimeData(nonce: Vectors.nonce, teePubKey: key.publicJWK)
        #expect(
            String(decoding: runtime.canonicalBytes, as: UTF8.self)
                == #"{"additional-evidence":"","nonce":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","tee-pubkey":{"alg":"ECDH-ES+A256KW","crv":"P-256","kty":"EC","x":"slvwXoJUO964jOFAWdq0yCdwyNQK02w8RBUhXQ7LifQ","y":"Z7HMsGXPksLB09GLi_NrSvx9LHHjK13kbd4KErjAr8M"}}"#
        )
        let sha384 = "162eca446527f02c3c28579f7c32ccf423ccd1d4e5337ae893c44d36741e388f7f814fec5240213147098dfd07deb6ec"
        #expect(Hex.encode(runtime.digest(.sha384)) == sha384)
        #expect(Hex.encode(runtime.reportData(.sha384)) == sha384 + String(repeating: "0", count: 32))
        #expect(
            Hex.encode(runtime.digest(.sha512))
                == "7d9b90e31cec4d2c3727f34a8ff30ede9977091bfb2def3ddc203857bafd10175bca5a910c3b031d5fc3f7fef8f71ce749aa6c2dfe72328157542c508f9f4275"
        )
        let sample = EvidenceJSON.sample(digest: runtime.digest(.sha384))
        #expect(
            sample["report_data"]?.stringValue == "Fi7KRGUn8Cw8KFeffDLM9CPM0dTlM3rok8RNNnQeOI9/gU/sUkAhMUcJjf0H3rbs")
    }

    @Test("§4: the ECDH-ES+A256KW / A256GCM JWE decrypts to 'my-luks-passphrase'")
    func jweVector() throws {
        let body = #"""
            {"protected":"eyJhbGciOiJFQ0RILUVTK0EyNTZLVyIsImVuYyI6IkEyNTZHQ00iLCJlcGsiOnsiY3J2IjoiUC0yNTYiLCJrdHkiOiJFQyIsIngiOiJOQ1dKeTl1RHBoelBwbkpaSXYySUpsRFlUZnJTblpJV3Fab1hLUTFMeFlzIiwieSI6IjBjRHdjZGVKTTN3V0RVcm93cVVPcGRyQTRVVWllNm1RNlhLLUwxc1ZrUFUifX0",
             "encrypted_key":"etkf4b5MFJqlSM8WQPeMWI9-gr96T18u4tkDcKtbQZWT2CSeTnx3cQ",
             "iv":"HQ5FdPhS3i4b5JKU","ciphertext":"h6coaLFE5_FuIxzLDiMnr8GR","tag":"zzAnzdqnY3ARkuc0BJ7yTw"}
            """#
        let jwe = try JWE(json: JSONValue.parse(body))
        let plaintext = try Vectors.clientKey().decrypt(jwe)
        #expect(plaintext.unsafeCopyToArray() == Array("my-luks-passphrase".utf8))
        var tampered = jwe
        tampered.tag[3] ^= 1
        #expect(throws: KBSError.self) { _ = try Vectors.clientKey().decrypt(tampered) }
    }

    @Test("encryption to every key type round-trips; a wrong-curve epk is refused", arguments: TEEKeyType.allCases)
    func jweRoundTrip(type: TEEKeyType) throws {
        let key = try TEEKeyPair(type: type)
        let secret = SecretBytes(copying: Array("volume secret \(type)".utf8))
        let jwe = try JWE.encrypt(secret, to: key.publicJWK)
        #expect(try key.decrypt(jwe).constantTimeEquals(secret))
        if type == .p256 {
            let other = try TEEKeyPair(type: .p521)
            let foreign = try JWE.encrypt(secret, to: other.publicJWK)
            #expect(throws: KBSError(.decryptionFailed, "")) { _ = try key.decrypt(foreign) }
        }
    }

    @Test("JCS: key order by UTF-16, escapes, integers; the parser rejects hostile JSON")
    func jcsAndParser() throws {
        let value = try JSONValue.parse(#"{"b":[1,2.0,-0,1e2],"a":"x/y\u00e9\n","\u20ac":true,"\ud83d\ude00":null}"#)
        #expect(
            value.canonicalString == "{\"a\":\"x/y\u{e9}\\n\",\"b\":[1,2,0,100],\"\u{20ac}\":true,\"\u{1F600}\":null}")
        for bad in [
            #"{"a":1,"a":2}"#, "[1,]", "{\"a\":01}", "\"\\ud800\"", "[" + String(repeating: "[", count: 100) + "]]",
            "1 2", "\"\u{01}\"",
        ] {
            #expect(throws: JSONParseError.self, "accepted \(bad)") { _ = try JSONValue.parse(bad) }
        }
    }

    @Test("SNP evidence JSON round-trips every corpus report byte for byte")
    func snpEvidenceJSON() throws {
        for file in [
            "milan-v2-gosevguest-report.bin", "genoa-v3-report.bin", "turin-v5-report.bin", "milan-v5-gcp-report.bin",
        ] {
            let report = try SNPReport(parsing: Fixtures.bytes("snp/" + file))
            let json = EvidenceJSON.snp(
                report: report, certificates: SNPCertificateTable(certificates: [(.vcek, [1, 2])]))
            let reparsed = try EvidenceJSON.parseSNP(JSONValue.parse(json.serializedBytes()))
            #expect(reparsed.report.rawBytes == report.rawBytes, "\(file)")
            #expect(reparsed.certificates.first?.0 == "VCEK")
        }
    }

    @Test("error bodies are classified by type; HTML is not an error body")
    func errorBodies() {
        let deny = ErrorInformation(
            body: Array(
                #"{"type":"https://github.com/confidential-containers/kbs/errors/PolicyDeny","detail":"Access denied by policy"}"#
                    .utf8))
        #expect(deny?.variant == "PolicyDeny")
        #expect(ErrorInformation(body: Array("<html>500</html>".utf8)) == nil)
        #expect(ResourcePath("default/luks/abc-123") != nil)
        #expect(ResourcePath("kbs:///default/luks/x")?.description == "default/luks/x")
        for bad in ["default/luks", "a/b/c/d", "../b/c", "a/.b/c", "a/b/c d"] {
            #expect(ResourcePath(bad) == nil, "\(bad)")
        }
    }
}
