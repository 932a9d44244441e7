// SPDX-License-Identifier: Apache-2.0
// `ccagent verify snp|tdx` end to end on the real corpus: exit statuses 0/2/3/64 and the --json document.

import FoundationEssentials
import TestSupport
import Testing

/// The `verify --json` document, decoded strictly: every documented key must be present.
struct VerifyJSON: Decodable {
    var trusted: Bool
    var failures: [String]
    var evidence: Evidence

    struct Evidence: Decodable {
        var type: String
        var version: Int
        var reportData: String
        var simulated: Bool?
        // SNP
        var vmpl: Int?
        var policy: UInt64?
        var measurement: String?
        var hostData: String?
        var chipID: String?
        var signingKey: String?
        var reportedTCB: TCB?
        // TDX
        var mrTD: String?
        var mrSeam: String?
        var rtmr: [String]?
        var tdAttributes: String?
        var xfam: String?
        var teeTCBSVN: String?

        enum CodingKeys: String, CodingKey {
            case type, version, vmpl, policy, measurement, rtmr, xfam, simulated
            case reportData = "report_data"
            case hostData = "host_data"
            case chipID = "chip_id"
            case signingKey = "signing_key"
            case reportedTCB = "reported_tcb"
            case mrTD = "mr_td"
            case mrSeam = "mr_seam"
            case tdAttributes = "td_attributes"
            case teeTCBSVN = "tee_tcb_svn"
        }
    }

    struct TCB: Decodable {
        var bootloader: Int
        var tee: Int
        var snp: Int
        var microcode: Int
        var fmc: Int?
    }
}

@Suite("ccagent verify (the built binary)", .tags(.integration))
struct VerifyCommandIntegrationTests {
    let ccagent = Binaries.ccagent
    let corpus = Fixtures.testVectors

    func run(_ arguments: [String]) throws -> Subprocess.Result {
        try Subprocess.run([ccagent, "verify"] + arguments)
    }

    /// The JSON line of the output (stderr notes may precede it).
    func document(_ output: String) throws -> VerifyJSON {
        let start = try #require(output.firstIndex(of: "{"))
        return try JSONDecoder().decode(VerifyJSON.self, from: Data(output[start...].utf8))
    }

    @Test("a trusted SNP report exits 0 and prints every documented key")
    func snpTrusted() throws {
        let result = try run([
            "snp", "--report", corpus + "/snp/turin-v5-report.bin", "--cert", corpus + "/snp/turin-v5-vcek.pem",
            "--cert", corpus + "/certs/amd-turin-vcek-ask-ark.pem", "--at", "2026-06-01T00:00:00Z", "--json",
        ])
        #expect(result.exitCode == 0, "\(result.output)")
        let json = try document(result.output)
        #expect(json.trusted && json.failures.isEmpty)
        #expect(json.evidence.type == "snp" && json.evidence.version == 5 && json.evidence.vmpl == 0)
        #expect(json.evidence.signingKey == "vcek" && json.evidence.chipID?.hasPrefix("59790fb1c39f35c1") == true)
        #expect(json.evidence.reportedTCB?.fmc == 1 && json.evidence.reportedTCB?.microcode == 81)
        #expect(json.evidence.measurement?.count == 96 && json.evidence.hostData?.count == 64)
        #expect(json.evidence.policy == 0x3001F)
    }

    @Test("an SNP report checked after its VLEK expired exits 2 naming validity; a directory of certificates works")
    func snpNotTrusted() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.removeTree(directory) }
        for name in ["snp/milan-v3-aws-vlek.der", "certs/amd-milan-vlek-asvk-ark.pem"] {
            let base = String(name.split(separator: "/").last ?? "")
            try Data(Fixtures.bytes(name)).write(to: URL(fileURLWithPath: directory + "/" + base))
        }
        let report = corpus + "/snp/milan-v3-aws-vlek-vmpl1-report.bin"
        let early = try run(["snp", "--report", report, "--cert", directory, "--at", "2025-06-01T00:00:00Z"])
        #expect(early.exitCode == 0, "\(early.output)")
        let late = try run(["snp", "--report", report, "--cert", directory, "--at", "2026-01-01T00:00:00Z", "--json"])
        #expect(late.exitCode == 2, "\(late.output)")
        let json = try document(late.output)
        #expect(!json.trusted && json.failures.count == 1 && json.failures[0].hasPrefix("validity"))
        // Without certificates: not trusted, and the message says how to provide them.
        let bare = try run(["snp", "--report", report, "--at", "2025-06-01T00:00:00Z"])
        #expect(bare.exitCode == 2 && bare.output.contains("--cert"))
    }

    @Test("a trusted TDX quote exits 0 with the TDX keys; its CCEL replays; collateral gives the TCB status")
    func tdx() throws {
        let quote = corpus + "/tdx/gcp-cos113-v4-quote.dat"
        let result = try run([
            "tdx", "--quote", quote, "--event-log", corpus + "/tdx/gcp-cos113-ccel-data.dat", "--at",
            "2024-09-01T00:00:00Z", "--json",
        ])
        #expect(result.exitCode == 0, "\(result.output)")
        let json = try document(result.output)
        #expect(json.evidence.type == "tdx" && json.evidence.version == 4 && json.evidence.rtmr?.count == 4)
        #expect(json.evidence.mrTD?.hasPrefix("dae67181") == true && json.evidence.teeTCBSVN?.count == 32)
        #expect(json.evidence.mrSeam != nil && json.evidence.tdAttributes != nil && json.evidence.xfam != nil)
        // The CCEL of another VM does not replay to this quote's RTMRs.
        let azure = try run([
            "tdx", "--quote", corpus + "/tdx/azure-v4-quote.dat", "--event-log",
            corpus + "/tdx/gcp-cos113-ccel-data.dat", "--at", "2024-06-01T00:00:00Z",
        ])
        #expect(azure.exitCode == 2 && azure.output.contains("event log"), "\(azure.output)")
        let vector = CollateralVector.all[1]
        let directory = try vector.collateralDirectory()
        defer { Fixtures.removeTree(directory) }
        let outOfDate = try run([
            "tdx", "--quote", corpus + "/tdx/" + vector.quote, "--collateral", directory, "--at", vector.at, "--json",
        ])
        #expect(outOfDate.exitCode == 2)
        #expect(try document(outOfDate.output).failures == ["tcb status: OutOfDate"])
    }

    @Test("simulated SNP and TDX evidence is trusted only with the simulator's roots passed as --trust-root")
    func simulator() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.removeTree(directory) }
        let state = ["--simulator-dir", directory + "/state"]
        try #require(try Subprocess.run([ccagent, "simulator", "init"] + state).exitCode == 0)
        let roots = try Subprocess.run([ccagent, "simulator", "roots"] + state)
        try #require(roots.exitCode == 0)
        let rootsFile = directory + "/roots.pem"
        let start = roots.output.firstRange(of: "-----BEGIN")?.lowerBound ?? roots.output.startIndex
        let pem = roots.output[start...]
        try Data(pem.utf8).write(to: URL(fileURLWithPath: rootsFile))
        let report = directory + "/report.bin"
        let certificates = directory + "/certs.pem"
        let quote = directory + "/quote.bin"
        try #require(
            try Subprocess.run(
                [ccagent, "report", "generate", "--tee", "sim-snp", "--out", report, "--certs-out", certificates]
                    + state
            ).exitCode == 0)
        try #require(
            try Subprocess.run([ccagent, "report", "generate", "--tee", "sim-tdx", "--out", quote] + state).exitCode
                == 0)

        let snpUntrusted = try run(["snp", "--report", report, "--cert", certificates, "--json"])
        #expect(snpUntrusted.exitCode == 2)
        #expect(try document(snpUntrusted.output).failures.map { String($0.prefix(4)) } == ["ark:"])
        let snpTrusted = try run([
            "snp", "--report", report, "--cert", certificates, "--trust-root", rootsFile, "--json",
        ])
        #expect(snpTrusted.exitCode == 0, "\(snpTrusted.output)")
        #expect(try document(snpTrusted.output).evidence.simulated == true)

        let tdxUntrusted = try run(["tdx", "--quote", quote, "--json"])
        #expect(tdxUntrusted.exitCode == 2)
        #expect(try document(tdxUntrusted.output).failures.map { String($0.prefix(5)) } == ["root:"])
        let tdxTrusted = try run(["tdx", "--quote", quote, "--trust-root", rootsFile, "--json"])
        #expect(tdxTrusted.exitCode == 0, "\(tdxTrusted.output)")
        #expect(try document(tdxTrusted.output).evidence.simulated == true)
    }

    @Test("unreadable input exits 3 with a message; a bad --at is a usage error (64)")
    func unreadable() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.removeTree(directory) }
        let truncated = directory + "/truncated.bin"
        try Data(Fixtures.bytes("tdx/spr-e4-v4-quote.dat").prefix(3000)).write(to: URL(fileURLWithPath: truncated))
        let garbage = directory + "/garbage.pem"
        try Data("not a certificate".utf8).write(to: URL(fileURLWithPath: garbage))
        let cases: [[String]] = [
            ["tdx", "--quote", truncated],
            ["snp", "--report", truncated],
            ["snp", "--report", directory + "/missing.bin"],
            ["snp", "--report", corpus + "/snp/milan-v2-azure-hcl-report.bin"],
            ["snp", "--report", corpus + "/snp/genoa-v3-report.bin", "--cert", garbage],
            ["tdx", "--quote", corpus + "/tdx/spr-e4-v4-quote.dat", "--trust-root", garbage],
        ]
        for arguments in cases {
            let result = try run(arguments)
            #expect(result.exitCode == 3, "\(arguments): \(result.output)")
            #expect(result.output.hasPrefix("ccagent: failed to "), "\(result.output)")
        }
        let usage = try run(["snp", "--report", truncated, "--at", "yesterday"])
        #expect(usage.exitCode == 64 && usage.output.contains("RFC 3339"))
    }
}
