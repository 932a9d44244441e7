// SPDX-License-Identifier: Apache-2.0
// SNP report parsing over the real corpus: decoded fields, exact round trip, hostile input.

import AgentBase
import TestSupport
import Testing

@testable import TEEEvidence

/// A corpus report and the values PROVENANCE.md lists for it.
struct SNPVector: CustomTestStringConvertible, Sendable {
    var file: String
    var version: UInt32
    var vmpl: UInt32
    var policy: UInt64
    var signingKey: SNPSigningKey
    /// bootloader, tee, snp, microcode, fmc
    var tcb: (UInt8, UInt8, UInt8, UInt8, UInt8?)
    var product: String?
    var testDescription: String { file }

    static let all: [SNPVector] = [
        .init(
            file: "milan-v2-gosevguest-report.bin", version: 2, vmpl: 0, policy: 0xB0000, signingKey: .vcek,
            tcb: (2, 0, 5, 68, nil), product: nil),
        .init(
            file: "milan-v3-aws-vlek-vmpl1-report.bin", version: 3, vmpl: 1, policy: 0x30000, signingKey: .vlek,
            tcb: (4, 0, 24, 0xFF, nil), product: "Milan"),
        .init(
            file: "milan-v2-azure-snp-report.bin", version: 2, vmpl: 0, policy: 0x3001F, signingKey: .vcek,
            tcb: (3, 0, 8, 115, nil), product: nil),
        .init(
            file: "milan-v5-gcp-report.bin", version: 5, vmpl: 0, policy: 0x30000, signingKey: .vcek,
            tcb: (4, 0, 27, 222, nil), product: "Milan"),
        .init(
            file: "milan-v5-gcp-vmpl1-x25519-bound-report.bin", version: 5, vmpl: 1, policy: 0x30000, signingKey: .vcek,
            tcb: (4, 0, 27, 222, nil), product: "Milan"),
        .init(
            file: "genoa-v3-report.bin", version: 3, vmpl: 0, policy: 0x3001F, signingKey: .vcek,
            tcb: (10, 0, 23, 84, nil), product: "Genoa"),
        .init(
            file: "genoa-fam19-modA0-v3-report.bin", version: 3, vmpl: 0, policy: 0x30000, signingKey: .vcek,
            tcb: (10, 0, 23, 25, nil), product: "Genoa"),
        .init(
            file: "turin-v5-report.bin", version: 5, vmpl: 0, policy: 0x3001F, signingKey: .vcek, tcb: (1, 1, 4, 81, 1),
            product: "Turin"),
    ]
}

@Suite("SNP reports")
struct SNPReportTests {
    @Test("decodes the fields PROVENANCE.md lists", arguments: SNPVector.all)
    func decodes(vector: SNPVector) throws {
        let report = try SNPReport(parsing: Fixtures.bytes("snp/" + vector.file))
        #expect(report.version == vector.version)
        #expect(report.vmpl == vector.vmpl)
        #expect(report.policy.raw == vector.policy)
        #expect(report.signingKey == vector.signingKey)
        #expect(report.productName == vector.product)
        let tcb = report.reportedTCB
        #expect(tcb.bootloader == vector.tcb.0 && tcb.tee == vector.tcb.1 && tcb.snp == vector.tcb.2)
        if vector.tcb.3 != 0xFF { #expect(tcb.microcode == vector.tcb.3) }
        #expect(tcb.fmc == vector.tcb.4)
    }

    @Test("re-serializes to the identical bytes", arguments: SNPVector.all)
    func roundTrip(vector: SNPVector) throws {
        let bytes = try Fixtures.bytes("snp/" + vector.file)
        #expect(try SNPReport(parsing: bytes).serialize() == bytes)
    }

    @Test("known values: go-sev-guest's debug policy, Turin's 8-byte chip id, GCP's mitigation vectors")
    func specificValues() throws {
        let milan = try SNPReport(parsing: Fixtures.bytes("snp/milan-v2-gosevguest-report.bin"))
        #expect(milan.policy.debugAllowed)
        #expect(Hex.encode(milan.measurement).hasPrefix("b07af962"))
        #expect(Array(milan.reportData.prefix(6)) == [1, 2, 3, 4, 5, 0])
        #expect(Hex.encode(milan.chipID).hasPrefix("3ac3fe21e13fb099"))
        let turin = try SNPReport(parsing: Fixtures.bytes("snp/turin-v5-report.bin"))
        #expect(Hex.encode(turin.chipID.prefix(8)) == "59790fb1c39f35c1")
        #expect(turin.chipID.dropFirst(8).allSatisfy { $0 == 0 })
        #expect(turin.reportedTCBRaw == 0x5100_0000_0401_0101)
        let gcp = try SNPReport(parsing: Fixtures.bytes("snp/milan-v5-gcp-report.bin"))
        #expect(gcp.launchMitigationVector == 11 && gcp.currentMitigationVector == 11)
        let aws = try SNPReport(parsing: Fixtures.bytes("snp/milan-v3-aws-vlek-vmpl1-report.bin"))
        #expect(aws.chipID.allSatisfy { $0 == 0 })
    }

    @Test("every truncation is a clear error, never a crash")
    func truncation() throws {
        let bytes = try Fixtures.bytes("snp/genoa-v3-report.bin")
        for length in stride(from: 0, to: bytes.count, by: 37) {
            #expect(throws: EvidenceError.self) { try SNPReport(parsing: Array(bytes.prefix(length))) }
        }
        #expect(throws: EvidenceError.self) { try SNPReport(parsing: bytes + [0]) }
    }

    @Test("random input and bad versions are rejected with a reason")
    func garbage() throws {
        var generator = SeededGenerator(seed: 42)
        for _ in 0..<200 {
            let random = (0..<SNPReport.size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(throws: EvidenceError.self) { try SNPReport(parsing: random) }
        }
        var bytes = try Fixtures.bytes("snp/genoa-v3-report.bin")
        bytes[0] = 9
        #expect(throws: EvidenceError(.unsupportedVersion, "")) { try SNPReport(parsing: bytes) }
    }

    @Test("a non-zero reserved byte is named")
    func reserved() throws {
        var bytes = try Fixtures.bytes("snp/genoa-v3-report.bin")
        bytes[0x4C] = 1
        do {
            _ = try SNPReport(parsing: bytes)
            Issue.record("accepted a non-zero reserved field")
        } catch {
            #expect(error.code == .reservedNonZero)
            #expect(error.message.contains("0x4c"))
        }
    }

    @Test("the certificate table round-trips and rejects entries pointing outside the buffer")
    func certificateTable() throws {
        let table = SNPCertificateTable(certificates: [(.vcek, [1, 2, 3]), (.ask, [4, 5]), (.ark, [6])])
        let bytes = table.serialize(alignment: 4096)
        #expect(bytes.count == 4096)
        let parsed = try SNPCertificateTable(parsing: bytes)
        #expect(parsed.certificate(.vcek) == [1, 2, 3])
        #expect(parsed.certificate(.ark) == [6])
        var hostile = bytes
        hostile[16] = 0xFF
        hostile[17] = 0xFF
        #expect(throws: EvidenceError.self) { try SNPCertificateTable(parsing: hostile) }
        #expect(throws: EvidenceError.self) { try SNPCertificateTable(parsing: Array(bytes.prefix(30))) }
    }
}

/// A deterministic generator for fuzz-like tests (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
