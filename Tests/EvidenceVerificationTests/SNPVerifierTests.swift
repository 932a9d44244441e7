// SPDX-License-Identifier: Apache-2.0
// SNP verification over the real corpus, and single-bit tampering of every signed region.

import AgentBase
import Cryptography
import EvidenceVerification
import FoundationEssentials
import TEEEvidence
import TestSupport
import Testing

struct SNPChainVector: CustomTestStringConvertible, Sendable {
    var report: String
    var certificates: [String]
    /// A time inside every certificate's validity.
    var at: String
    var testDescription: String { report }

    static let all: [SNPChainVector] = [
        .init(
            report: "snp/milan-v2-gosevguest-report.bin",
            certificates: ["snp/milan-v2-gosevguest-vcek.der", "certs/amd-milan-vcek-ask-ark.pem"],
            at: "2025-01-01T00:00:00Z"),
        .init(
            report: "snp/milan-v3-aws-vlek-vmpl1-report.bin",
            certificates: ["snp/milan-v3-aws-vlek.der", "certs/amd-milan-vlek-asvk-ark.pem"], at: "2025-06-01T00:00:00Z"
        ),
        .init(
            report: "snp/milan-v2-azure-snp-report.bin", certificates: ["snp/milan-v2-azure-vcek-ask-ark.pem"],
            at: "2025-01-01T00:00:00Z"),
        .init(
            report: "snp/milan-v5-gcp-report.bin",
            certificates: ["snp/milan-v5-gcp-vcek.pem", "certs/amd-milan-vcek-ask-ark.pem"], at: "2026-06-01T00:00:00Z"),
        .init(
            report: "snp/milan-v5-gcp-vmpl1-x25519-bound-report.bin",
            certificates: ["snp/milan-v5-gcp-vcek.pem", "certs/amd-milan-vcek-ask-ark.pem"], at: "2026-06-01T00:00:00Z"),
        .init(
            report: "snp/genoa-v3-report.bin",
            certificates: ["snp/genoa-v3-vcek.pem", "certs/amd-genoa-vcek-ask-ark.pem"], at: "2026-06-01T00:00:00Z"),
        .init(
            report: "snp/genoa-fam19-modA0-v3-report.bin",
            certificates: ["snp/genoa-fam19-modA0-v3-vcek.der", "certs/amd-genoa-vcek-ask-ark.pem"],
            at: "2026-06-01T00:00:00Z"),
        .init(
            report: "snp/turin-v5-report.bin",
            certificates: ["snp/turin-v5-vcek.pem", "certs/amd-turin-vcek-ask-ark.pem"], at: "2026-06-01T00:00:00Z"),
    ]

    func load() throws -> (SNPReport, [Certificate], Timestamp) {
        let report = try SNPReport(parsing: Fixtures.bytes(self.report))
        let certificates = try certificates.flatMap { try Certificate.parse(pemOrDER: Fixtures.bytes($0)) }
        let date = try #require(Timestamp(iso8601: at))
        return (report, certificates, date)
    }
}

@Suite("SNP verification")
struct SNPVerifierTests {
    @Test("every real report verifies to a pinned AMD root", arguments: SNPChainVector.all)
    func verifies(vector: SNPChainVector) throws {
        let (report, certificates, date) = try vector.load()
        let result = SNPVerifier.verify(report: report, certificates: certificates, at: date)
        #expect(result.failures == [])
        #expect(result.passed.contains("report signature"))
    }

    @Test("a flipped bit anywhere in the signed region is rejected", arguments: SNPChainVector.all)
    func tamperedReport(vector: SNPChainVector) throws {
        let (report, certificates, date) = try vector.load()
        // Flips the parser itself rejects (reserved fields) are not counted: they never reach the verifier.
        var tested = 0
        for offset in stride(from: 0, to: 0x2A0, by: 29) {
            var bytes = report.rawBytes
            bytes[offset] ^= 0x01
            guard let tampered = try? SNPReport(parsing: bytes) else { continue }
            tested += 1
            let result = SNPVerifier.verify(report: tampered, certificates: certificates, at: date)
            #expect(!result.trusted, "flip at 0x\(String(offset, radix: 16)) was accepted")
        }
        // 24 sampled offsets; the parser rejects 7-8 of them (reserved fields, must-be-zero bits).
        #expect(tested >= 16, "only \(tested) flips parsed")
        var bytes = report.rawBytes
        bytes[0x2A0] ^= 0x01  // signature R
        let result = SNPVerifier.verify(report: try SNPReport(parsing: bytes), certificates: certificates, at: date)
        #expect(result.codes == [.reportSignatureMismatch])
        #expect(result.failures.first?.hasPrefix("report signature: does not verify with the ") == true)
    }

    @Test("a flipped bit in a certificate's signed part breaks the chain or the signature")
    func tamperedCertificates() throws {
        let vector = SNPChainVector.all[5]
        let (report, certificates, date) = try vector.load()
        var tested = 0
        for index in certificates.indices {
            var der = certificates[index].der
            der[der.count / 2] ^= 0x04
            guard let broken = try? Certificate(der: der) else { continue }
            tested += 1
            var set = certificates
            set[index] = broken
            let result = SNPVerifier.verify(report: report, certificates: set, at: date)
            #expect(!result.trusted, "tampered certificate \(index) accepted")
            #expect(result.codes.contains { $0.family == .chain }, "\(result.failures)")
        }
        #expect(tested == certificates.count, "only \(tested) of \(certificates.count) tampered certificates parsed")
    }

    @Test("without the VCEK, or with a chain from another product, it says so")
    func missingOrWrongChain() throws {
        let (report, _, date) = try SNPChainVector.all[5].load()
        let none = SNPVerifier.verify(report: report, certificates: [], at: date)
        #expect(none.codes == [.missingSigningCertificate])
        #expect(none.failures.first?.hasPrefix("vcek: no VCEK certificate") == true)
        let vcek = try Certificate.parse(pemOrDER: Fixtures.bytes("snp/genoa-v3-vcek.pem"))
        let milan = try Certificate.parse(pemOrDER: Fixtures.bytes("certs/amd-milan-vcek-ask-ark.pem"))
        let wrong = SNPVerifier.verify(report: report, certificates: vcek + milan, at: date)
        #expect(wrong.codes == [.missingIntermediate], "\(wrong.failures)")
        #expect(wrong.failures == ["vcek chain: no ASK certificate signed the VCEK"])
    }

    @Test("certificates are checked at the given time: the AWS VLEK expired 2025-12-10")
    func expiry() throws {
        let (report, certificates, _) = try SNPChainVector.all[1].load()
        let late = try #require(Timestamp(iso8601: "2026-01-01T00:00:00Z"))
        let result = SNPVerifier.verify(report: report, certificates: certificates, at: late)
        #expect(result.codes == [.certificateNotValid])
        #expect(result.failures.first?.contains("SEV-VLEK") == true)
    }

    @Test("a report paired with another chip's VCEK fails the signature and the chip id")
    func wrongVCEK() throws {
        let (report, _, date) = try SNPChainVector.all[0].load()
        let other = try ["snp/milan-v5-gcp-vcek.pem", "certs/amd-milan-vcek-ask-ark.pem"].flatMap {
            try Certificate.parse(pemOrDER: Fixtures.bytes($0))
        }
        let result = SNPVerifier.verify(report: report, certificates: other, at: date)
        // The GCP VCEK also certifies another TCB, and was issued after the time of this report's chain.
        #expect(result.codes.first == .reportSignatureMismatch)
        #expect(result.codes.last == .chipIDMismatch)
        #expect(Set(result.codes) == [.reportSignatureMismatch, .certificateNotValid, .tcbMismatch, .chipIDMismatch])
    }

    @Test("an unsigned report, or one whose signing key is masked, is rejected for that alone")
    func unsigned() throws {
        let (report, certificates, date) = try SNPChainVector.all[0].load()
        // KEY_INFO: SIGNING_KEY (bits 4:2) 7 = none; MASK_CHIP_KEY (bit 1) with the VCEK.
        for keyInfo: UInt8 in [0x1C, 0x02] {
            var bytes = report.rawBytes
            bytes[0x48] = keyInfo
            let result = SNPVerifier.verify(report: try SNPReport(parsing: bytes), certificates: certificates, at: date)
            #expect(result.codes == [.unsignedReport], "KEY_INFO \(bytes[0x48]): \(result.failures)")
        }
    }

    @Test("a report whose SIGNATURE_ALGO is not ECDSA P-384 names the algorithm")
    func signatureAlgorithm() throws {
        let (report, certificates, date) = try SNPChainVector.all[0].load()
        var bytes = report.rawBytes
        bytes[0x34] = 2
        let result = SNPVerifier.verify(report: try SNPReport(parsing: bytes), certificates: certificates, at: date)
        #expect(result.codes == [.unsupportedSignatureAlgorithm])
        #expect(result.failures == ["report signature: SIGNATURE_ALGO is 2, not 1 (ECDSA P-384 with SHA-384)"])
    }

    @Test("a chain to a root that is neither AMD's nor passed explicitly names the root; passed, it is trusted")
    func untrustedRoot() throws {
        let chain = try TestSNPChain()
        let unknown = SNPVerifier.verify(
            report: chain.report, certificates: [chain.vcek, chain.ask, chain.ark], at: chain.now)
        #expect(unknown.codes == [.untrustedRoot], "\(unknown.failures)")
        #expect(unknown.failures.first?.hasPrefix("ark: the root '") == true)
        #expect(unknown.failures.first?.contains("ARK-Test") == true)
        #expect(
            unknown.failures.first?.hasSuffix("pass --trust-root only for roots you trust, such as the simulator's")
                == true)
        #expect(chain.verify([]).trusted)
    }

    @Test("a VCEK certifying another TCB is a TCB mismatch naming the component")
    func tcbMismatch() throws {
        let (report, certificates, date) = try SNPChainVector.all[0].load()
        var bytes = report.rawBytes
        bytes[0x187] ^= 0x01  // REPORTED_TCB microcode
        let tampered = try SNPReport(parsing: bytes)
        let result = SNPVerifier.verify(
            report: tampered, certificates: certificates, at: date,
            checks: [SNPReportedTCBCheck(), SNPChipIDCheck()])
        #expect(result.codes == [.tcbMismatch])
        #expect(result.failures.first?.hasPrefix("tcb mismatch: microcode (report ") == true)
    }
}
