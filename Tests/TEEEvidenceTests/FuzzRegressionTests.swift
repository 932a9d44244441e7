// SPDX-License-Identifier: Apache-2.0
// Inputs the fuzzers found, committed under Tests/Regression/fuzz: each is now rejected or round-trips.

import TestSupport
import Testing

@testable import TEEEvidence

@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static let directory = Fixtures.repositoryRoot + "/Tests/Regression/fuzz/evidence"

    @Test("a TDX quote with slack inside its certification data is refused as malformed, naming the size mismatch")
    func certificationSlack() throws {
        let bytes = try Fixtures.readFile(Self.directory + "/tdx-quote-slack-in-certification-data")
        let error = #expect(throws: EvidenceError.self) { try TDXQuote(parsing: bytes) }
        #expect(error?.code == .malformed)
        #expect(
            error?.message
                == "failed to read TDX quote: the certification data size does not match the signature data length")
    }
}
