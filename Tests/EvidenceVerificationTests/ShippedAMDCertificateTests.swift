// SPDX-License-Identifier: Apache-2.0
// AMD's shipped ASK/ASVK/ARK: byte-identical to the corpus, pinned, signed by their ARK, and used to
// complete a chain the evidence gives only the VCEK/VLEK of.

import AgentBase
import Cryptography
import EvidenceVerification
import FoundationEssentials
import TEEEvidence
import TestSupport
import Testing

@Suite("Shipped AMD certificates")
struct ShippedAMDCertificateTests {
    static let files: [(product: String, kind: AMDCertificates.KeyKind, corpus: String)] = [
        ("Milan", .vcek, "certs/amd-milan-vcek-ask-ark.pem"), ("Milan", .vlek, "certs/amd-milan-vlek-asvk-ark.pem"),
        ("Genoa", .vcek, "certs/amd-genoa-vcek-ask-ark.pem"), ("Genoa", .vlek, "certs/amd-genoa-vlek-asvk-ark.pem"),
        ("Turin", .vcek, "certs/amd-turin-vcek-ask-ark.pem"), ("Turin", .vlek, "certs/amd-turin-vlek-asvk-ark.pem"),
    ]

    @Test("every shipped PEM is byte-identical to the corpus copy of AMD's cert_chain")
    func byteIdentical() throws {
        for file in Self.files {
            let shipped = try #require(AMDCertificates.pem(product: file.product, kind: file.kind))
            #expect(Array(shipped.utf8) == (try Fixtures.bytes(file.corpus)), "\(file.corpus)")
        }
        #expect(AMDCertificates.pem(product: "Bergamo", kind: .vcek) == nil)
    }

    @Test("every shipped ARK is pinned for its product, and every ASK/ASVK verifies under it")
    func pinnedAndSigned() throws {
        for file in Self.files {
            let chain = try #require(AMDCertificates.chain(product: file.product, kind: file.kind))
            #expect(TrustAnchors.amdARK[Hex.encode(chain.root.spkiSHA256)] == file.product, "\(file.corpus)")
            #expect(chain.root.isSignature(issuedBy: chain.root), "the ARK is self-signed")
            #expect(chain.intermediate.isSignature(issuedBy: chain.root), "\(file.corpus): the intermediate")
            #expect(!chain.intermediate.isSignature(issuedBy: chain.intermediate))
            let name = file.kind == .vcek ? "CN=SEV-\(file.product)" : "CN=SEV-VLEK-\(file.product)"
            #expect(chain.intermediate.subject.contains(name), "\(chain.intermediate.subject)")
            #expect(chain.root.subject.contains("CN=ARK-\(file.product)"))
        }
        // The same ARK certifies both chains of a product.
        for product in AMDCertificates.products {
            let vcek = try #require(AMDCertificates.chain(product: product, kind: .vcek))
            let vlek = try #require(AMDCertificates.chain(product: product, kind: .vlek))
            #expect(vcek.root.der == vlek.root.der)
        }
    }

    @Test("a corpus report given only its VCEK verifies with the shipped ASK and ARK", arguments: CorpusVCEK.all)
    func onlyTheLeaf(entry: CorpusVCEK.Entry) throws {
        let report = try SNPReport(parsing: Fixtures.bytes(entry.report))
        let vcek = try #require(try Certificate.parse(pemOrDER: Fixtures.bytes(entry.vcek)).first)
        let time = try #require(Timestamp(iso8601: CorpusVCEK.time))
        let result = SNPVerifier.verify(report: report, certificates: [vcek], shippedCertificates: true, at: time)
        #expect(result.failures == [])
        #expect(result.passed.contains("vcek chain to AMD ARK-\(entry.product)"), "\(result.passed)")
        let input = try SNPVerification(report: report, certificates: [vcek], shippedCertificates: true, at: time)
        #expect(input.usedShippedCertificates)
        // Without the shipped certificates nothing above the leaf is known (the library's default).
        #expect(SNPVerifier.verify(report: report, certificates: [vcek], at: time).codes == [.missingIntermediate])
    }

    @Test("the Genoa-class part (CPUID 19h model A0h) is certified by the Genoa chain")
    func genoaModelA0() throws {
        let report = try SNPReport(parsing: Fixtures.bytes("snp/genoa-fam19-modA0-v3-report.bin"))
        #expect(report.cpuidFamily == 0x19 && report.cpuidModel == 0xA0)
        #expect(report.productName == "Genoa")
        let vcek = try Certificate(der: Fixtures.bytes("snp/genoa-fam19-modA0-v3-vcek.der"))
        let input = try SNPVerification(
            report: report, certificates: [vcek], shippedCertificates: true,
            at: #require(Timestamp(iso8601: CorpusVCEK.time)))
        #expect(input.anchor == .amd(product: "Genoa"))
    }

    @Test("a VLEK-signed report given only its VLEK verifies with the shipped ASVK")
    func onlyTheVLEK() throws {
        let report = try SNPReport(parsing: Fixtures.bytes("snp/milan-v3-aws-vlek-vmpl1-report.bin"))
        let vlek = try Certificate(der: Fixtures.bytes("snp/milan-v3-aws-vlek.der"))
        let time = try #require(Timestamp(iso8601: "2025-06-01T00:00:00Z"))
        let result = SNPVerifier.verify(report: report, certificates: [vlek], shippedCertificates: true, at: time)
        #expect(result.failures == [])
        #expect(result.passed.contains("vlek chain to AMD ARK-Milan"))
    }

    @Test("given the ASK but not the ARK, the shipped ARK completes the chain only if it signed that ASK")
    func onlyTheARKMissing() throws {
        let report = try SNPReport(parsing: Fixtures.bytes("snp/turin-v5-report.bin"))
        let vcek = try Certificate.parse(pemOrDER: Fixtures.bytes("snp/turin-v5-vcek.pem"))
        let chain = try Certificate.parse(pemOrDER: Fixtures.bytes("certs/amd-turin-vcek-ask-ark.pem"))
        let time = try #require(Timestamp(iso8601: CorpusVCEK.time))
        let result = SNPVerifier.verify(
            report: report, certificates: vcek + [chain[0]], shippedCertificates: true, at: time)
        #expect(result.failures == [] && result.passed.contains("vcek chain to AMD ARK-Turin"))
    }

    /// The attack: a forged "VCEK" (the attacker's P-384 key, AMD's extensions copied, signed by the
    /// attacker's own "ASK") and a report re-signed with it. Shipped certificates must not complete it.
    @Test("a forged VCEK signed by a self-made ASK is not completed by the shipped certificates")
    func forgedLeaf() throws {
        let real = try SNPReport(parsing: Fixtures.bytes("snp/genoa-v3-report.bin"))
        let genuine = try Certificate.parse(pemOrDER: Fixtures.bytes("snp/genoa-v3-vcek.pem"))[0]
        let now = try #require(Timestamp(iso8601: CorpusVCEK.time))
        let askKey = try PrivateKey.generateRSA(bits: 2048)
        let askName = [("CN", "SEV-Genoa"), ("O", "Advanced Micro Devices")]
        let vcekKey = try PrivateKey.generateEC(.p384)
        var builder = CertificateBuilder(
            subject: [("CN", "SEV-VCEK")], serial: [0], notBefore: now - 3600, notAfter: now + 3600,
            publicKey: vcekKey.publicKey)
        for arc in ["3.1", "3.2", "3.3", "3.8", "4"] {
            let oid = "1.3.6.1.4.1.3704.1." + arc
            builder.addExtension(oid: oid, critical: false, derValue: try #require(genuine.extensionValue(oid: oid)))
        }
        let forged = try builder.sign(issuer: askName, key: askKey, alg: .sha384, rsaPSS: true)
        var report = real
        let (r, s) = try vcekKey.signECDSA(.sha384, data: real.signedBytes)
        report.setSignature(r: r, s: s)
        let result = SNPVerifier.verify(report: report, certificates: [forged], shippedCertificates: true, at: now)
        #expect(!result.trusted)
        #expect(result.codes == [.missingIntermediate], "\(result.failures)")
        // And the genuine VCEK does not verify the forged signature.
        let swapped = SNPVerifier.verify(report: report, certificates: [genuine], shippedCertificates: true, at: now)
        #expect(swapped.codes == [.reportSignatureMismatch], "\(swapped.failures)")
    }

    @Test("an extended report whose GHCB table has an unknown GUID verifies: the entry is skipped")
    func unknownGUIDInTable() throws {
        let report = try Fixtures.bytes("snp/genoa-v3-report.bin")
        let vcek = try Certificate.parse(pemOrDER: Fixtures.bytes("snp/genoa-v3-vcek.pem"))[0].der
        let known = SNPCertificateTable(certificates: [(.vcek, vcek)]).serialize()
        // Rebuild the table by hand with an unknown GUID first: { guid, offset, length } ×2, terminator, blobs.
        func u32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        let junk: [UInt8] = [0xDE, 0xAD, 0xBE, 0xEF]
        let header = 3 * 24
        var table = [UInt8](repeating: 0x11, count: 16) + u32(header) + u32(junk.count)
        table += Array(known[0..<16]) + u32(header + junk.count) + u32(vcek.count)
        table += [UInt8](repeating: 0, count: 24) + junk + vcek
        let parsed = try SNPCertificateTable(parsing: table)
        #expect(parsed.entries.map(\.kind) == [nil, .vcek])
        let result = try EvidenceVerifier.verifySNP(
            report: report + table, certificates: [], shippedCertificates: true,
            at: #require(Timestamp(iso8601: CorpusVCEK.time)))
        #expect(result.failures == [])
    }
}
