// SPDX-License-Identifier: Apache-2.0
// TDX verification over the real corpus: signatures, QE binding, PCK chain, collateral, CCEL replay.

import AgentBase
import Cryptography
import EvidenceVerification
import FoundationEssentials
import TEEEvidence
import TestSupport
import Testing

@Suite("TDX verification")
struct TDXVerifierTests {
    static let quotes: [(String, String)] = [
        ("spr-e4-v4-quote.dat", "2024-01-01T00:00:00Z"), ("tdx15-v5-quote.dat", "2026-06-01T00:00:00Z"),
        ("azure-v4-quote.dat", "2024-06-01T00:00:00Z"), ("gcp-cos113-v4-quote.dat", "2024-09-01T00:00:00Z"),
        ("fmspc00a06d080000-v4-quote.dat", "2025-11-01T00:00:00Z"),
    ]

    @Test("every real quote verifies to the pinned Intel SGX Root CA", arguments: quotes)
    func verifies(file: String, at: String) throws {
        let quote = try TDXQuote(parsing: Fixtures.bytes("tdx/" + file))
        let result = TDXVerifier.verify(quote: quote, at: try #require(Timestamp(iso8601: at)))
        #expect(result.failures == [])
        #expect(result.passed.contains("pck chain to the Intel SGX Root CA"))
    }

    @Test("a flipped bit in the header/body, QE report, auth data or PCK chain fails", arguments: quotes.prefix(2))
    func tampered(file: String, at: String) throws {
        let bytes = try Fixtures.bytes("tdx/" + file)
        let quote = try TDXQuote(parsing: bytes)
        let date = try #require(Timestamp(iso8601: at))
        let signedEnd = quote.signedBytes.count
        let qeReportStart = signedEnd + 4 + 64 + 64 + 2 + 4
        let offsets =
            Array(stride(from: 8, to: signedEnd, by: 41))
            + Array(stride(from: qeReportStart, to: qeReportStart + 384, by: 37)) + [qeReportStart + 384 + 64 + 2]
            + [quote.rawBytes.count - 900, quote.rawBytes.count - 300]
        // Flips the parser itself rejects (header fields it checks) are not counted.
        var tested = 0
        for offset in offsets {
            var flipped = bytes
            flipped[offset] ^= 0x02
            guard let tamperedQuote = try? TDXQuote(parsing: flipped) else { continue }
            tested += 1
            #expect(!TDXVerifier.verify(quote: tamperedQuote, at: date).trusted, "flip at \(offset) accepted")
        }
        #expect(tested >= offsets.count - 3, "only \(tested) of \(offsets.count) flips parsed")
    }

    @Test("with matching collateral, the signatures verify and a TCB status is reported")
    func collateral() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.removeTree(directory) }
        for name in [
            "tdx-tcbinfo-00a06d080000-2025-10-27.json", "tdx-qeidentity-2025-10-28.json", "intel-tcb-signing-chain.pem",
        ] {
            let bytes = try Fixtures.bytes("collateral/" + name)
            try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + name))
        }
        let collateral = try TDXCollateral(directory: directory)
        let quote = try TDXQuote(parsing: Fixtures.bytes("tdx/fmspc00a06d080000-v4-quote.dat"))
        let result = TDXVerifier.verify(
            quote: quote, collateral: collateral, at: try #require(Timestamp(iso8601: "2025-11-01T00:00:00Z")))
        #expect(result.passed.contains("collateral signatures"))
        let statuses = (result.passed + result.failures).filter { $0.lowercased().contains("tcb status") }
        #expect(!statuses.isEmpty, "\(result.failures)")
        // A tampered TCB info no longer verifies.
        var info = try Fixtures.bytes("collateral/tdx-tcbinfo-00a06d080000-2025-10-27.json")
        if let index = info.firstIndex(of: UInt8(ascii: "U")) { info[index] = UInt8(ascii: "X") }
        try Data(info).write(to: URL(fileURLWithPath: directory + "/tdx-tcbinfo-00a06d080000-2025-10-27.json"))
        let tampered = TDXVerifier.verify(
            quote: quote, collateral: try TDXCollateral(directory: directory),
            at: try #require(Timestamp(iso8601: "2025-11-01T00:00:00Z")))
        #expect(tampered.codes.contains(.collateralSignatureMismatch))
        #expect(tampered.failures.contains("collateral signature: TCB info"))
    }

    @Test("a PCK chain whose certificates sign each other in a loop is broken, even with the Intel root beside it")
    func chainLoop() throws {
        // Two attacker certificates, each signed by the other's key, and the genuine Intel root (public):
        // the walk from the PCK must reach the root, not go round the loop.
        let real = try TDXQuote(parsing: Fixtures.bytes("tdx/spr-e4-v4-quote.dat"))
        let intelRoot = try Certificate.parse(pemOrDER: Fixtures.bytes("collateral/intel-sgx-root-ca.pem"))
        let now = try #require(Timestamp(iso8601: "2024-01-01T00:00:00Z"))
        let pckKey = try PrivateKey.generateEC(.p256)
        let otherKey = try PrivateKey.generateEC(.p256)
        let pckName = [("CN", "Intel SGX PCK Certificate")]
        let otherName = [("CN", "Intel SGX PCK Platform CA")]
        let pck = try CertificateBuilder(
            subject: pckName, serial: [1], notBefore: now - 3600, notAfter: now + 3600, publicKey: pckKey.publicKey
        ).sign(issuer: otherName, key: otherKey, alg: .sha256, rsaPSS: false)
        let other = try CertificateBuilder(
            subject: otherName, serial: [2], notBefore: now - 3600, notAfter: now + 3600, publicKey: otherKey.publicKey
        ).sign(issuer: pckName, key: pckKey, alg: .sha256, rsaPSS: false)
        // A quote signed like the hardware signs one, by keys the attacker holds.
        let attestationKey = try PrivateKey.generateEC(.p256)
        let (_, x, y) = try #require(attestationKey.publicKey.ecCoordinates)
        let authData = [UInt8](repeating: 7, count: 32)
        var qeReport = real.qeReport.raw
        qeReport.replaceSubrange(
            320..<384, with: DigestAlgorithm.sha256.hash(x + y + authData) + [UInt8](repeating: 0, count: 32))
        let (qr, qs) = try pckKey.signECDSA(.sha256, data: qeReport)
        var forged = TDXQuote(
            body: real.body, signature: [UInt8](repeating: 0, count: 64), attestationKey: x + y, qeReport: qeReport,
            qeReportSignature: qr + qs, qeAuthData: authData,
            pckChain: Array((pck.pem + other.pem + intelRoot.map(\.pem).joined()).utf8))
        let (r, s) = try attestationKey.signECDSA(.sha256, data: forged.headerAndBody())
        forged.setSignature(r + s)
        let result = TDXVerifier.verify(quote: try TDXQuote(parsing: forged.rawBytes), at: now)
        #expect(result.codes == [.brokenChain], "\(result.failures)")
        #expect(result.passed.contains("quote signature") && result.passed.contains("QE report signature by the PCK"))
    }

    @Test("a CCEL log that does not replay to the quote's RTMRs is named")
    func replayMismatch() throws {
        let log = try Fixtures.bytes("tdx/gcp-cos113-ccel-data.dat")
        let quote = try Fixtures.bytes("tdx/gcp-cos113-v4-quote.dat")
        let at = try #require(Timestamp(iso8601: "2024-09-01T00:00:00Z"))
        let matching = try EvidenceVerifier.verifyTDX(quote: quote, eventLog: log, at: at)
        #expect(matching.trusted && matching.passed.contains("event log replays to RTMR0-3"), "\(matching.failures)")
        let other = try EvidenceVerifier.verifyTDX(
            quote: Fixtures.bytes("tdx/azure-v4-quote.dat"), eventLog: log,
            at: #require(Timestamp(iso8601: "2024-06-01T00:00:00Z")))
        #expect(other.codes == [.rtmrMismatch], "\(other.failures)")
    }

    @Test("the CCEL log replays to exactly RTMR0–3 of the GCP quote")
    func replay() throws {
        let log = try CCELEventLog(parsing: Fixtures.bytes("tdx/gcp-cos113-ccel-data.dat"))
        let quote = try TDXQuote(parsing: Fixtures.bytes("tdx/gcp-cos113-v4-quote.dat"))
        #expect(TDXVerifier.replay(log) == quote.body.rtmr)
    }

    @Test("the TDREPORT's hashes match its TEE_TCB_INFO and TDINFO")
    func tdReportHashes() throws {
        let report = try TDReport(parsing: Fixtures.bytes("tdx/azure-tdreport.bin"))
        #expect(DigestAlgorithm.sha384.hash(report.teeTCBInfo) == report.teeTCBInfoHash)
        #expect(DigestAlgorithm.sha384.hash(report.tdInfo) == report.teeInfoHash)
    }
}
