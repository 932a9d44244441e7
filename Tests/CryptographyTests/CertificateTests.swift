// SPDX-License-Identifier: Apache-2.0
// X.509 parsing of real AMD certificates, building test chains, and chain verification at a given time.

import AgentBase
import Cryptography
import FoundationEssentials
import SecureMemory
import TestSupport
import Testing

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
        let now = Timestamp(secondsSinceEpoch: 1_800_000_000)
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

@Suite("Real certificates from the corpus")
struct CorpusCertificateTests {
    static let bundles = [
        "certs/amd-milan-vcek-ask-ark.pem", "certs/amd-milan-vlek-asvk-ark.pem", "certs/amd-genoa-vcek-ask-ark.pem",
        "certs/amd-genoa-vlek-asvk-ark.pem", "certs/amd-turin-vcek-ask-ark.pem", "certs/amd-turin-vlek-asvk-ark.pem",
    ]

    @Test("every AMD bundle parses to an intermediate and a self-signed RSA-4096 ARK", arguments: bundles)
    func amdBundle(path: String) throws {
        let chain = try Certificate.parse(pemOrDER: Fixtures.bytes(path))
        #expect(chain.count == 2)
        let intermediate = chain[0]
        let ark = chain[1]
        #expect(ark.subject.contains("CN=ARK-"))
        #expect(intermediate.issuer == ark.subject)
        #expect(ark.isSignature(issuedBy: ark) && intermediate.isSignature(issuedBy: ark))
        #expect(ark.publicKey.rsaComponents?.modulus.count == 512)
        #expect(ark.spkiSHA256.count == 32 && ark.spkiSHA256 != intermediate.spkiSHA256)
        #expect(try Certificate(der: ark.der).der == ark.der)
        #expect(ark.notBefore < ark.notAfter)
    }

    @Test("a real VCEK with serial number 0 parses, carries its TCB extensions and chains to the Milan ARK")
    func milanVCEK() throws {
        let vcek = try Certificate(der: Fixtures.bytes("snp/milan-v2-gosevguest-vcek.der"))
        #expect(vcek.serialNumber == [0])
        #expect(vcek.publicKey.ecCoordinates?.curve == .p384)
        #expect(vcek.signatureAlgorithmOID == "1.2.840.113549.1.1.10")
        // blSPL (1.3.6.1.4.1.3704.1.3.1) is a DER INTEGER; the report documents bootloader SPL 2.
        #expect(vcek.extensionValue(oid: "1.3.6.1.4.1.3704.1.3.1") == [0x02, 0x01, 0x02])
        #expect(vcek.extensionValue(oid: "1.2.3.4") == nil)
        let chain = try Certificate.parse(pemOrDER: Fixtures.bytes("certs/amd-milan-vcek-ask-ark.pem"))
        #expect(vcek.isSignature(issuedBy: chain[0]))
        #expect(!vcek.isSignature(issuedBy: chain[1]))
        let at = Timestamp(secondsSinceEpoch: 1_735_689_600)  // 2025-01-01
        #expect(ChainVerifier.verify(leaf: vcek, intermediates: [chain[0]], roots: [chain[1]], at: at).isEmpty)
        let before = Timestamp(secondsSinceEpoch: 1_600_000_000)  // 2020-09-13, before the VCEK was issued
        #expect(!ChainVerifier.verify(leaf: vcek, intermediates: [chain[0]], roots: [chain[1]], at: before).isEmpty)
    }
}

@Suite("Certificate revocation lists")
struct RevocationListTests {
    @Test("Intel's PCK Platform CA and Root CA CRLs parse and verify under their issuers")
    func intelCRLs() throws {
        let platformChain = try Certificate.parse(
            pemOrDER: Fixtures.bytes("collateral/intel-pck-platform-ca-chain.pem"))
        let platformCA = try #require(platformChain.first { $0.subject.contains("PCK Platform CA") })
        let root = try #require(platformChain.first { $0.subject.contains("Root CA") })
        let pckCRL = try CertificateRevocationList.parse(
            pemOrDER: Fixtures.bytes("collateral/intel-pckcrl-platform-2023-06-08.der"))
        #expect(pckCRL.issuer == platformCA.subject)
        #expect(pckCRL.revokedCount == 44)
        #expect(pckCRL.isSignature(issuedBy: platformCA) && !pckCRL.isSignature(issuedBy: root))
        #expect(pckCRL.thisUpdate == Timestamp(secondsSinceEpoch: 1_686_209_272))  // 2023-06-08T07:27:52Z
        #expect(pckCRL.nextUpdate == Timestamp(secondsSinceEpoch: 1_688_801_272))  // 2023-07-08T07:27:52Z
        let rootCRL = try CertificateRevocationList.parse(
            pemOrDER: Fixtures.bytes("collateral/intel-rootcrl-2023-04-03.der"))
        #expect(rootCRL.revokedCount == 0 && rootCRL.isSignature(issuedBy: root))
        #expect(!rootCRL.isRevoked(platformCA))
        var der = try Fixtures.bytes("collateral/intel-rootcrl-2023-04-03.der")
        der[40] ^= 0x01
        if let tampered = try? CertificateRevocationList(der: der) {
            #expect(!tampered.isSignature(issuedBy: root))
        }
        #expect(throws: CryptoError.self) { _ = try CertificateRevocationList(der: [0x30, 0x03, 0x02]) }
    }

    @Test("a certificate is revoked when the CRL lists its issuer's name and its serial number")
    func revocationLookup() throws {
        let crl = try CertificateRevocationList.parse(
            pemOrDER: Fixtures.bytes("collateral/intel-pckcrl-platform-2023-06-08.der"))
        let key = try PrivateKey.generateEC(.p256)
        let issuer = [
            ("CN", "Intel SGX PCK Platform CA"), ("O", "Intel Corporation"), ("L", "Santa Clara"), ("ST", "CA"),
            ("C", "US"),
        ]
        func certificate(serial: [UInt8]) throws -> Certificate {
            let now = Timestamp(secondsSinceEpoch: 1_700_000_000)
            return try CertificateBuilder(
                subject: [("CN", "Intel SGX PCK Certificate")], serial: serial, notBefore: now, notAfter: now + 60,
                publicKey: key.publicKey
            ).sign(issuer: issuer, key: key, alg: .sha256, rsaPSS: false)
        }
        #expect(crl.isRevoked(try certificate(serial: hex("6FC34E5023E728923435D61AA4B83C618166AD35"))))
        #expect(!crl.isRevoked(try certificate(serial: hex("6FC34E5023E728923435D61AA4B83C618166AD36"))))
    }

    @Test("a built CRL round-trips through DER and PEM-less parsing and verifies only under its signer")
    func builtCRL() throws {
        let key = try PrivateKey.generateEC(.p384)
        let now = Timestamp(secondsSinceEpoch: 1_800_000_000)
        let crl = try CertificateRevocationList.sign(
            issuer: [("CN", "Test CA")], revokedSerialNumbers: [[1], [0x01, 0x00], [0xFF]], thisUpdate: now,
            nextUpdate: now + 86400, key: key, alg: .sha384, rsaPSS: false)
        let parsed = try CertificateRevocationList.parse(pemOrDER: crl.der)
        #expect(parsed.der == crl.der && parsed.revokedCount == 3 && parsed.issuer == "CN=Test CA")
        #expect(parsed.thisUpdate == now && parsed.nextUpdate == now + 86400)
        var builder = CertificateBuilder(
            subject: [("CN", "Test CA")], serial: [5], notBefore: now, notAfter: now + 60, publicKey: key.publicKey)
        builder.basicConstraints(ca: true)
        let ca = try builder.sign(issuer: [("CN", "Test CA")], key: key, alg: .sha384, rsaPSS: false)
        #expect(parsed.isSignature(issuedBy: ca))
        let other = try PrivateKey.generateEC(.p384)
        let impostor = try CertificateBuilder(
            subject: [("CN", "Test CA")], serial: [5], notBefore: now, notAfter: now + 60, publicKey: other.publicKey
        ).sign(issuer: [("CN", "Test CA")], key: other, alg: .sha384, rsaPSS: false)
        #expect(!parsed.isSignature(issuedBy: impostor))
    }
}
