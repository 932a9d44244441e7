// SPDX-License-Identifier: Apache-2.0
// SNP revocation: an ARK-signed CRL listing the ASK rejects the chain; stale or forged CRLs are named.

import AgentBase
import Cryptography
import EvidenceVerification
import FoundationEssentials
import TEEEvidence
import TestSupport
import Testing

/// A test ARK → ASK → VCEK chain (AMD-like: RSA-PSS SHA-384, serial-0 P-384 VCEK with the SPL and hwID
/// extensions of a real report) and that report re-signed by the test VCEK.
struct TestSNPChain {
    let now = Timestamp(secondsSinceEpoch: 1_800_000_000)
    let arkName = [("CN", "ARK-Test"), ("O", "ccagent tests")]
    let arkKey: PrivateKey
    let ark: Certificate
    let ask: Certificate
    let vcek: Certificate
    let report: SNPReport

    init() throws {
        let (real, _, _) = try SNPChainVector.all[0].load()
        arkKey = try PrivateKey.generateRSA(bits: 2048)
        var arkBuilder = CertificateBuilder(
            subject: arkName, serial: [1], notBefore: now - 86400, notAfter: now + 86400, publicKey: arkKey.publicKey)
        arkBuilder.basicConstraints(ca: true)
        ark = try arkBuilder.sign(issuer: arkName, key: arkKey, alg: .sha384, rsaPSS: true)
        let askKey = try PrivateKey.generateRSA(bits: 2048)
        let askName = [("CN", "SEV-Test"), ("O", "ccagent tests")]
        var askBuilder = CertificateBuilder(
            subject: askName, serial: [2], notBefore: now - 86400, notAfter: now + 86400, publicKey: askKey.publicKey)
        askBuilder.basicConstraints(ca: true)
        ask = try askBuilder.sign(issuer: arkName, key: arkKey, alg: .sha384, rsaPSS: true)
        let vcekKey = try PrivateKey.generateEC(.p384)
        var vcekBuilder = CertificateBuilder(
            subject: [("CN", "SEV-VCEK")], serial: [0], notBefore: now - 3600, notAfter: now + 3600,
            publicKey: vcekKey.publicKey)
        let tcb = real.reportedTCB
        for (arc, value) in [("3.1", tcb.bootloader), ("3.2", tcb.tee), ("3.3", tcb.snp), ("3.8", tcb.microcode)] {
            let integer: [UInt8] = value >= 0x80 ? [0x02, 0x02, 0x00, value] : [0x02, 0x01, value]
            vcekBuilder.addExtension(oid: "1.3.6.1.4.1.3704.1." + arc, critical: false, derValue: integer)
        }
        vcekBuilder.addExtension(oid: "1.3.6.1.4.1.3704.1.4", critical: false, derValue: real.chipID)
        vcek = try vcekBuilder.sign(issuer: askName, key: askKey, alg: .sha384, rsaPSS: true)
        var signed = real
        let (r, s) = try vcekKey.signECDSA(.sha384, data: real.signedBytes)
        signed.setSignature(r: r, s: s)
        report = signed
    }

    func crl(
        revoking serials: [[UInt8]], nextUpdate: Timestamp? = nil, key: PrivateKey? = nil
    ) throws
        -> CertificateRevocationList
    {
        try CertificateRevocationList.sign(
            issuer: arkName, revokedSerialNumbers: serials, thisUpdate: now - 3600,
            nextUpdate: nextUpdate ?? now + 3600, key: key ?? arkKey, alg: .sha384, rsaPSS: true)
    }

    func verify(_ crls: [CertificateRevocationList]) -> VerificationResult {
        SNPVerifier.verify(
            report: report, certificates: [vcek, ask], extraRoots: [ark], revocationLists: crls, at: now)
    }
}

@Suite("SNP revocation")
struct SNPRevocationTests {
    @Test("a CRL of the ARK that lists the ASK rejects the chain; one that does not is recorded as passed")
    func revoked() throws {
        let chain = try TestSNPChain()
        #expect(chain.verify([]).failures == [])
        let clean = chain.verify([try chain.crl(revoking: [[7], [9, 9]])])
        #expect(clean.failures == [])
        #expect(clean.passed.contains("not revoked (CRL of 'CN=ARK-Test')"))
        let revoked = chain.verify([try chain.crl(revoking: [[7], [2]])])
        #expect(revoked.codes == [.revoked])
        #expect(revoked.failures.first?.hasPrefix("revoked: '") == true)
        #expect(revoked.failures.first?.hasSuffix("is listed in the CRL of 'CN=ARK-Test'") == true)
    }

    @Test("a stale CRL, or one not signed by the ARK, is rejected naming the CRL")
    func staleOrForged() throws {
        let chain = try TestSNPChain()
        let stale = chain.verify([try chain.crl(revoking: [], nextUpdate: chain.now - 60)])
        #expect(stale.codes == [.crlExpired])
        #expect(stale.failures.map { String($0.prefix(29)) } == ["crl: the CRL of 'CN=ARK-Test'"])
        let forged = chain.verify([try chain.crl(revoking: [], key: PrivateKey.generateRSA(bits: 2048))])
        #expect(forged.codes == [.crlSignatureMismatch])
        #expect(
            forged.failures == ["crl signature: the CRL of 'CN=ARK-Test' does not verify with its certificate"])
        // A CRL of an issuer outside the chain does not apply.
        let other = try CertificateRevocationList.parse(
            pemOrDER: Fixtures.bytes("collateral/intel-rootcrl-2023-04-03.der"))
        #expect(chain.verify([other]).failures == [])
    }

    @Test("an extended report's CRL entry is used: the ASK it lists is rejected")
    func extendedReportCRL() throws {
        let chain = try TestSNPChain()
        let table = SNPCertificateTable(certificates: [
            (.vcek, chain.vcek.der), (.ask, chain.ask.der), (.crl, try chain.crl(revoking: [[2]]).der),
        ])
        let result = try EvidenceVerifier.verifySNP(
            report: chain.report.rawBytes + table.serialize(), certificates: [],
            trustRoots: [(name: "ark.pem", bytes: Array(chain.ark.pem.utf8))], at: chain.now)
        #expect(result.codes == [.revoked], "\(result.failures)")
        let error = #expect(throws: VerificationError.self) {
            _ = try EvidenceVerifier.verifySNP(
                report: chain.report.rawBytes, certificates: [],
                revocationLists: [(name: "x.crl", bytes: [0x30, 0x00])], at: chain.now)
        }
        #expect(error?.code == .unreadableCertificate && error?.description.contains("'x.crl'") == true)
    }
}
