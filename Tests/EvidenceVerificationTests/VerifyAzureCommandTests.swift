// SPDX-License-Identifier: Apache-2.0
// `ccagent verify azure` and `report decode` of an HCL report, end to end on the real corpus.

import FoundationEssentials
import TestSupport
import Testing

/// The `verify azure --json` document, decoded strictly: every documented key must be present.
struct VerifyAzureJSON: Decodable {
    var trusted: Bool
    var failures: [String]
    var evidence: Evidence

    struct Evidence: Decodable {
        var type: String
        var tee: String
        var evidenceVersion: Int
        var reportData: String
        var pcrs: [String]
        var hardware: Hardware

        enum CodingKeys: String, CodingKey {
            case type, tee, pcrs, hardware
            case evidenceVersion = "evidence_version"
            case reportData = "report_data"
        }
    }

    struct Hardware: Decodable {
        var type: String
        var reportData: String

        enum CodingKeys: String, CodingKey {
            case type
            case reportData = "report_data"
        }
    }
}

@Suite("ccagent verify azure (the built binary)", .tags(.integration))
struct VerifyAzureCommandIntegrationTests {
    let corpus = Fixtures.testVectors
    static let v2ReportData =
        "982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef"

    func run(_ arguments: [String]) throws -> Subprocess.Result {
        try Subprocess.run([Binaries.ccagent] + arguments)
    }

    func document(_ output: String) throws -> VerifyAzureJSON {
        let start = try #require(output.firstIndex(of: "{"))
        return try JSONDecoder().decode(VerifyAzureJSON.self, from: Data(output[start...].utf8))
    }

    @Test("trusted SNP v2 evidence exits 0 with tee, report data, 24 PCRs and the SNP summary")
    func snpTrusted() throws {
        let result = try run([
            "verify", "azure", "--evidence", corpus + "/azure/snp-vtpm/evidence-v2.json", "--report-data",
            Self.v2ReportData, "--cert", corpus + "/certs/amd-milan-vcek-ask-ark.pem", "--at", "2026-06-01T00:00:00Z",
            "--json",
        ])
        #expect(result.exitCode == 0, "\(result.output)")
        let json = try document(result.output)
        #expect(json.trusted && json.failures.isEmpty)
        #expect(json.evidence.tee == "az-snp-vtpm" && json.evidence.type == "az-snp-vtpm")
        #expect(json.evidence.evidenceVersion == 2 && json.evidence.reportData == Self.v2ReportData)
        #expect(json.evidence.pcrs.first == "84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7")
        #expect(json.evidence.pcrs.count == 24 && json.evidence.hardware.type == "snp")
    }

    @Test("TDX evidence verifies to Intel; a wrong report data exits 2 naming the nonce")
    func tdx() throws {
        let evidence = corpus + "/azure/tdx-vtpm/evidence-v1.json"
        let good = try run([
            "verify", "azure", "--evidence", evidence, "--report-data", "6368616c6c656e6765", "--at",
            "2024-06-01T00:00:00Z",
        ])
        #expect(good.exitCode == 0, "\(good.output)")
        #expect(good.output.contains("ok      hcl tdreport matches the td quote"))
        let bad = try run([
            "verify", "azure", "--evidence", evidence, "--report-data", "6368616c6c656e6766", "--at",
            "2024-06-01T00:00:00Z", "--json",
        ])
        #expect(bad.exitCode == 2, "\(bad.output)")
        let json = try document(bad.output)
        #expect(!json.trusted && json.failures.contains { $0.hasPrefix("tpm quote nonce: ") })
        #expect(json.evidence.tee == "az-tdx-vtpm" && json.evidence.hardware.type == "tdx")
    }

    @Test("unreadable evidence exits 3; a report data that is not hex exits 64")
    func errors() throws {
        let garbage = try run([
            "verify", "azure", "--evidence", corpus + "/azure/snp-vtpm/hcl-report.bin", "--report-data", "00",
        ])
        #expect(garbage.exitCode == 3, "\(garbage.output)")
        #expect(garbage.output.contains("failed to read the Azure evidence"))
        let usage = try run([
            "verify", "azure", "--evidence", corpus + "/azure/snp-vtpm/evidence-v1.json", "--report-data", "xyz",
        ])
        #expect(usage.exitCode == 64, "\(usage.output)")
    }

    @Test("report decode reads an HCL report: type, hardware report and user data")
    func decode() throws {
        let result = try run(["report", "decode", corpus + "/azure/tdx-vtpm/hcl-report.bin", "--json"])
        #expect(result.exitCode == 0, "\(result.output)")
        #expect(result.output.contains("\"type\":\"hcl\"") || result.output.contains("\"type\" : \"hcl\""))
        #expect(result.output.contains("\"report_type\"") && result.output.contains("9734504f"))
        let text = try run(["report", "decode", corpus + "/azure/snp-vtpm/hcl-report.bin"])
        #expect(text.exitCode == 0 && text.output.contains("Azure HCL report, version 1, SNP hardware report"))
        #expect(text.output.contains("SNP attestation report, version 2"))
    }
}
