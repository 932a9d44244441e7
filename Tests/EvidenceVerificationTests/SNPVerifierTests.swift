// SPDX-License-Identifier: Apache-2.0
// SNP verification over the real corpus, and single-bit tampering of every signed region.

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

    func load() throws -> (SNPReport, [Certificate], Date) {
        let report = try SNPReport(parsing: Fixtures.bytes(self.report))
        let certificates = try certificates.flatMap { try Certificate.parse(pemOrDER: Fixtures.bytes($0)) }
        let date = try Date(at, strategy: .iso8601)
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

    @Test("a flipped bit anywhere in the signed region fails the report signature", arguments: SNPChainVector.all)
    func tamperedReport(vector: SNPChainVector) throws {
        let (report, certificates, date) = try vector.load()
        // Fields whose flip the parser itself rejects (reserved) are skipped: that is a failure too.
        for offset in stride(from: 0, to: 0x2A0, by: 29) {
            var bytes = report.rawBytes
            bytes[offset] ^= 0x01
            guard let tampered = try? SNPReport(parsing: bytes) else { continue }
            let result = SNPVerifier.verify(report: tampered, certificates: certificates, at: date)
            #expect(!result.trusted, "flip at 0x\(String(offset, radix: 16)) was accepted")
        }
        var bytes = report.rawBytes
        bytes[0x2A0] ^= 0x01  // signature R
        let result = SNPVerifier.verify(report: try SNPReport(parsing: bytes), certificates: certificates, at: date)
        #expect(result.failures.contains { $0.hasPrefix("report signature") })
    }

    @Test("a flipped bit in a certificate's signed part breaks the chain or the signature")
    func tamperedCertificates() throws {
        let vector = SNPChainVector.all[5]
        let (report, certificates, date) = try vector.load()
        for index in certificates.indices {
            var der = certificates[index].der
            der[der.count / 2] ^= 0x04
            guard let broken = try? Certificate(der: der) else { continue }
            var set = certificates
            set[index] = broken
            let result = SNPVerifier.verify(report: report, certificates: set, at: date)
            #expect(!result.trusted, "tampered certificate \(index) accepted")
        }
    }

    @Test("without the VCEK, or with a chain from another product, it says so")
    func missingOrWrongChain() throws {
        let (report, _, date) = try SNPChainVector.all[5].load()
        let none = SNPVerifier.verify(report: report, certificates: [], at: date)
        #expect(none.failures.first?.hasPrefix("vcek: no VCEK certificate") == true)
        let vcek = try Certificate.parse(pemOrDER: Fixtures.bytes("snp/genoa-v3-vcek.pem"))
        let milan = try Certificate.parse(pemOrDER: Fixtures.bytes("certs/amd-milan-vcek-ask-ark.pem"))
        let wrong = SNPVerifier.verify(report: report, certificates: vcek + milan, at: date)
        #expect(wrong.failures.contains { $0.hasPrefix("vcek chain") })
    }

    @Test("certificates are checked at the given time: the AWS VLEK expired 2025-12-10")
    func expiry() throws {
        let (report, certificates, _) = try SNPChainVector.all[1].load()
        let late = try Date("2026-01-01T00:00:00Z", strategy: .iso8601)
        let result = SNPVerifier.verify(report: report, certificates: certificates, at: late)
        #expect(result.failures.contains { $0.hasPrefix("validity") && $0.contains("SEV-VLEK") })
    }

    @Test("a report paired with another chip's VCEK fails the signature and the chip id")
    func wrongVCEK() throws {
        let (report, _, date) = try SNPChainVector.all[0].load()
        let other = try ["snp/milan-v5-gcp-vcek.pem", "certs/amd-milan-vcek-ask-ark.pem"].flatMap {
            try Certificate.parse(pemOrDER: Fixtures.bytes($0))
        }
        let result = SNPVerifier.verify(report: report, certificates: other, at: date)
        #expect(result.failures.contains { $0.hasPrefix("report signature") })
        #expect(result.failures.contains { $0.hasPrefix("chip id") })
    }
}
