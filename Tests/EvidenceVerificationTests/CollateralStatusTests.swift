// SPDX-License-Identifier: Apache-2.0
// TDX TCB status from real Intel PCS collateral, cross-checked against an independent evaluation (python).

import AgentBase
import EvidenceVerification
import FoundationEssentials
import TEEEvidence
import TestSupport
import Testing

/// A quote, the collateral files for its FMSPC, a time inside the collateral's validity, and the statuses
/// an independent evaluation (python, Intel's level-selection rule) gives for it.
struct CollateralVector: Sendable, CustomTestStringConvertible {
    var quote: String
    var files: [String]
    var at: String
    var failures: [String]
    var codes: [VerificationFailure.Code]
    var passed: [String]
    var testDescription: String { quote }

    static let all: [CollateralVector] = [
        // PCK SGX components 3,3,2,… are below every level's 5,5,2,… : Intel's algorithm finds no level.
        CollateralVector(
            quote: "spr-e4-v4-quote.dat",
            files: [
                "tdx-tcbinfo-50806f000000-2023-06-18.json", "tdx-qeidentity-2023-06-08.json",
                "intel-pckcrl-platform-2023-06-08.der", "intel-rootcrl-2023-04-03.der",
            ],
            at: "2023-07-01T00:00:00Z", failures: ["tcb status: no matching TCB level"],
            codes: [.platformTCBNotUpToDate],
            passed: [
                "QE identity: UpToDate", "collateral signatures", "TDX module identity",
                "not revoked (CRL of 'CN=Intel SGX PCK Platform CA')", "not revoked (CRL of 'CN=Intel SGX Root CA')",
            ]),
        // PCESVN 11 < 13 of the UpToDate level; the module TDX_03 (TEE_TCB_SVN 05 03) is up to date.
        CollateralVector(
            quote: "fmspc00a06d080000-v4-quote.dat",
            files: ["tdx-tcbinfo-00a06d080000-2025-10-27.json", "tdx-qeidentity-2025-10-28.json"],
            at: "2025-11-01T00:00:00Z", failures: ["tcb status: OutOfDate"],
            codes: [.platformTCBNotUpToDate],
            passed: ["QE identity: UpToDate", "collateral signatures", "TDX module TDX_03 TCB status: UpToDate"]),
        // TDX 1.5: platform level UpToDate, module TDX_01 isvsvn 11 ≥ 6 UpToDate.
        CollateralVector(
            quote: "tdx15-v5-quote.dat", files: ["tdx-tcbinfo-90c06f000000-2026-02-01.json"],
            at: "2026-02-15T00:00:00Z", failures: [], codes: [],
            passed: ["collateral signatures", "TCB status: UpToDate", "TDX module TDX_01 TCB status: UpToDate"]),
    ]

    func collateralDirectory() throws -> String {
        let directory = try Fixtures.temporaryDirectory()
        for name in files + ["intel-tcb-signing-chain.pem"] {
            try Data(try Fixtures.bytes("collateral/" + name)).write(to: URL(fileURLWithPath: directory + "/" + name))
        }
        return directory
    }
}

@Suite("TDX TCB status from collateral")
struct CollateralStatusTests {
    @Test("each corpus quote gets the TCB status an independent evaluation gives", arguments: CollateralVector.all)
    func status(vector: CollateralVector) throws {
        let directory = try vector.collateralDirectory()
        defer { Fixtures.removeTree(directory) }
        let result = try EvidenceVerifier.verifyTDX(
            quote: Fixtures.bytes("tdx/" + vector.quote), collateralDirectory: directory,
            at: #require(Timestamp(iso8601: vector.at)))
        #expect(result.failures == vector.failures)
        #expect(result.codes == vector.codes)
        for check in vector.passed { #expect(result.passed.contains(check), "\(result.passed)") }
    }

    @Test("collateral past its nextUpdate is rejected naming the expired document")
    func stale() throws {
        let vector = CollateralVector.all[1]
        let directory = try vector.collateralDirectory()
        defer { Fixtures.removeTree(directory) }
        let result = try EvidenceVerifier.verifyTDX(
            quote: Fixtures.bytes("tdx/" + vector.quote), collateralDirectory: directory,
            at: #require(Timestamp(iso8601: "2026-01-15T00:00:00Z")))
        #expect(result.codes.filter { $0 == .collateralExpired }.count == 2)
        #expect(result.failures.contains { $0.hasPrefix("collateral: TCB info expired") })
        #expect(result.failures.contains { $0.hasPrefix("collateral: QE identity expired") })
    }

    @Test("a CRL past its nextUpdate, or not signed by its issuer, is rejected naming the CRL")
    func staleOrForgedCRL() throws {
        let vector = CollateralVector.all[0]
        let directory = try vector.collateralDirectory()
        defer { Fixtures.removeTree(directory) }
        let quote = try Fixtures.bytes("tdx/" + vector.quote)
        let late = try EvidenceVerifier.verifyTDX(
            quote: quote, collateralDirectory: directory, at: #require(Timestamp(iso8601: "2023-07-10T00:00:00Z")))
        #expect(
            late.failures.contains { $0.hasPrefix("collateral: the CRL of 'CN=Intel SGX PCK Platform CA' expired") })
        #expect(!late.failures.contains { $0.contains("CRL of 'CN=Intel SGX Root CA'") })
        #expect(late.codes.contains(.crlExpired))
        // Flip one bit of the root CRL's signature (its last byte).
        var crl = try Fixtures.bytes("collateral/intel-rootcrl-2023-04-03.der")
        crl[crl.count - 1] ^= 0x01
        try Data(crl).write(to: URL(fileURLWithPath: directory + "/intel-rootcrl-2023-04-03.der"))
        let forged = try EvidenceVerifier.verifyTDX(
            quote: quote, collateralDirectory: directory, at: #require(Timestamp(iso8601: vector.at)))
        #expect(forged.codes.contains(.crlSignatureMismatch))
        #expect(
            forged.failures.contains(
                "crl signature: the CRL of 'CN=Intel SGX Root CA' does not verify with its certificate"))
    }

    @Test("an unreadable collateral directory is an unreadable-collateral error")
    func unreadable() throws {
        let error = #expect(throws: VerificationError.self) {
            _ = try EvidenceVerifier.verifyTDX(
                quote: Fixtures.bytes("tdx/spr-e4-v4-quote.dat"), collateralDirectory: "/nonexistent/collateral",
                at: .now)
        }
        #expect(error?.code == .unreadableCollateral)
    }
}
