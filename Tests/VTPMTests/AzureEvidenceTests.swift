// SPDX-License-Identifier: Apache-2.0
// The agent's Azure evidence from the simulated vTPM: ccbroker's verifier, the independent checker, attacks.

import AgentBase
import AzureIMDS
import CanonicalJSON
import Cryptography
import EvidenceVerification
import KBSClient
import TEEDevice
import TEEEvidence
import TEESimulator
import TestSupport
import Testing
import VTPM

#if canImport(Glibc)
import Glibc
#endif

/// A simulated Azure device on its own swtpm, with its IMDS stand-in in `mode`.
final class AzureRig: @unchecked Sendable {
    let fixture: SimulatorFixture
    let software: SoftwareTPM
    let imds: StandInIMDS
    let device: AzureVTPMDevice
    let directory: String

    init(_ kind: TEEKind, imdsMode: StandInIMDS.Mode = .normal) throws {
        fixture = try SimulatorFixture.shared()
        directory = try Fixtures.temporaryDirectory("ccagent-azrig")
        software = try SoftwareTPM.start(stateDirectory: directory + "/swtpm")
        imds = try StandInIMDS(source: SimulatedIMDS(state: fixture.state), mode: imdsMode)
        device = try SimulatedAzure.device(kind: kind, state: fixture.state, tcti: software.tcti, imdsURL: imds.url)
    }

    deinit {
        imds.stop()
        software.stop()
        Fixtures.removeTree(directory)
    }

    /// ccbroker's verifier (EvidenceVerification), trusting the simulator's roots as `ccbroker --trust-simulator` does.
    func verify(_ evidence: [UInt8], reportData: [UInt8]) throws -> VerificationResult {
        try EvidenceVerifier.verifyAzure(
            evidence: evidence, reportData: reportData,
            trustRoots: [(name: "roots.pem", bytes: Array(fixture.state.rootsPEM.utf8))], at: .now)
    }

    /// scripts/testing/verify_azure_evidence.py's verdict.
    func independentCheck(_ evidence: [UInt8], reportData: [UInt8]) throws -> Subprocess.Result {
        let path = directory + "/evidence-\(UInt32.random(in: 0...UInt32.max)).json"
        try FileIO.writeAtomically(path: path, bytes: evidence)
        return try Subprocess.run([
            "/usr/bin/env", "python3", Fixtures.repositoryRoot + "/scripts/testing/verify_azure_evidence.py", path,
            Hex.encode(reportData),
        ])
    }
}

let azureKinds: [TEEKind] = [.simAzSNP, .simAzTDX]

@Suite(
    "Azure evidence from the simulated vTPM", .serialized, .tags(.integration),
    .enabled(if: SoftwareTPMRequirement.present, SoftwareTPMRequirement.reason))
struct AzureEvidenceIntegrationTests {
    @Test("v2 evidence passes ccbroker's verifier and the independent checker", arguments: azureKinds)
    func evidencePasses(kind: TEEKind) throws {
        let rig = try AzureRig(kind)
        let digest = DigestAlgorithm.sha384.hash(Array("runtime data".utf8))
        let evidence = try rig.device.evidence(reportData: digest, vmpl: 0)
        let parsed = try AzureEvidence(parsing: evidence.bytes)
        #expect(parsed.version == 2)
        #expect(parsed.tee.rawValue == kind.protocolName)
        #expect(parsed.tpmQuote.message.extraData == digest, "the nonce is the digest itself, unpadded")
        #expect(parsed.hclReport.runtimeData.userData == digest + [UInt8](repeating: 0, count: 16))
        let result = try rig.verify(evidence.bytes, reportData: digest)
        #expect(result.trusted, "\(result.failures)")
        let check = try rig.independentCheck(evidence.bytes, reportData: digest)
        #expect(check.exitCode == 0, "\(check.output)")
        #expect(check.output.contains("\"ok\": true"))
        #expect(rig.imds.requests >= 1, "IMDS was asked over HTTP")
        // Another digest is not accepted by either.
        let other = DigestAlgorithm.sha384.hash(Array("other".utf8))
        let wrong = try rig.verify(evidence.bytes, reportData: other)
        #expect(wrong.codes.contains(.hclUserDataMismatch))
        #expect(wrong.failures.contains { $0.hasPrefix("tpm quote nonce") }, "\(wrong.failures)")
        #expect(try rig.independentCheck(evidence.bytes, reportData: other).exitCode == 1)
    }

    @Test("evidence is fresh: two requests give two HCL reports and quotes")
    func fresh() throws {
        let rig = try AzureRig(.simAzSNP)
        let first = try AzureEvidence(parsing: try rig.device.evidence(reportData: [1, 2, 3], vmpl: 0).bytes)
        let second = try AzureEvidence(parsing: try rig.device.evidence(reportData: [4, 5, 6], vmpl: 0).bytes)
        #expect(first.hclReport.variableData != second.hclReport.variableData)
        #expect(second.tpmQuote.message.extraData == [4, 5, 6])
    }

    @Test(
        "a hostile IMDS (oversized, malformed, HTTP error) is refused by the agent with IMDS named",
        arguments: [
            (StandInIMDS.Mode.oversized, "did not answer"), (.malformed, "not JSON"), (.serverError, "HTTP 500"),
        ])
    func hostileIMDS(mode: StandInIMDS.Mode, expected: String) throws {
        for kind in azureKinds {
            let rig = try AzureRig(kind, imdsMode: mode)
            let error = #expect(throws: DeviceError.self) { try rig.device.evidence(reportData: [9], vmpl: 0) }
            #expect(error?.message.contains("IMDS") == true)
            #expect(error?.message.contains(expected) == true, "\(kind): \(String(describing: error))")
        }
    }

    @Test("IMDS's TD quote for another TDREPORT is refused by the agent")
    func quoteForAnotherReport() throws {
        let rig = try AzureRig(.simAzTDX, imdsMode: .quoteForAnotherReport)
        let error = #expect(throws: DeviceError.self) { try rig.device.evidence(reportData: [9], vmpl: 0) }
        #expect(error?.message.contains("IMDS quoted another report") == true, "\(String(describing: error))")
    }

    @Test("a wrong VCEK from IMDS: the broker's verifier refuses the report signature")
    func wrongVCEK() throws {
        let rig = try AzureRig(.simAzSNP, imdsMode: .wrongVCEK)
        let evidence = try rig.device.evidence(reportData: [7, 7], vmpl: 0)
        let result = try rig.verify(evidence.bytes, reportData: [7, 7])
        #expect(!result.trusted)
        #expect(
            result.failures.contains { $0.contains("report signature") || $0.contains("vcek") }, "\(result.failures)")
        #expect(
            try rig.independentCheck(evidence.bytes, reportData: [7, 7]).exitCode == 0,
            "its checks stop before the chain")
    }

    /// The evidence with its HCL report replaced by `hcl`.
    func replacingHCL(_ evidence: [UInt8], with hcl: [UInt8]) throws -> [UInt8] {
        guard case .object(var members) = try JSONValue.parse(evidence) else { throw FixtureError(message: "not JSON") }
        members = members.map { $0.0 == "hcl_report" ? ($0.0, .string(Base64URL.encode(hcl))) : $0 }
        return JSONValue.object(members).serializedBytes()
    }

    @Test(
        "a paravisor HCL report that does not carry the quote's report data is refused, the check named",
        arguments: azureKinds)
    func mismatchedHCLReport(kind: TEEKind) throws {
        let rig = try AzureRig(kind)
        let digest = DigestAlgorithm.sha384.hash(Array("nonce".utf8))
        let evidence = try rig.device.evidence(reportData: digest, vmpl: 0)
        let parsed = try AzureEvidence(parsing: evidence.bytes)
        let ak = try #require(parsed.hclReport.runtimeData.attestationKey)
        // A genuine (correctly signed) HCL report, but for other user data: a replayed or foreign report.
        let paravisor = SimulatedParavisor(state: rig.fixture.state, kind: kind)
        let foreign = try paravisor.report(
            akPub: RSAPublicKey(modulus: ak.modulus, exponent: ak.exponent),
            userData: [UInt8](repeating: 0xEE, count: 64))
        let forged = try replacingHCL(evidence.bytes, with: foreign)
        let result = try rig.verify(forged, reportData: digest)
        if kind == .simAzSNP {
            // A genuine SNP report signed for other user data: only the user data check can catch it.
            #expect(result.codes == [.hclUserDataMismatch], "\(result.failures)")
        } else {
            // TDX: the TD quote (from IMDS) signs the TDREPORT of the real report, so the foreign one's
            // variable data and TDREPORT disagree with it too.
            #expect(
                Set(result.codes) == [.hclUserDataMismatch, .hclVariableDataMismatch, .hclTDReportMismatch],
                "\(result.failures)")
        }
        #expect(result.failures.contains { $0.hasPrefix("hcl user data") })
        let check = try rig.independentCheck(forged, reportData: digest)
        #expect(check.exitCode == 1)
        #expect(check.output.contains("user"), "\(check.output)")
        // One hex digit of the user data changed after the hardware signed the report: the binding to the
        // hardware report's REPORT_DATA breaks (and so does the user data check).
        var edited = parsed.hclReport.rawBytes
        let variableStart = HCLReport.fixedSize
        let text = Array(edited[variableStart...])
        let marker = Array("\"user-data\":\"".utf8)
        let found = try #require(
            (0...(text.count - marker.count)).first { text[$0..<$0 + marker.count].elementsEqual(marker) })
        let digit = variableStart + found + marker.count
        edited[digit] = edited[digit] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        let tampered = try rig.verify(try replacingHCL(evidence.bytes, with: edited), reportData: digest)
        #expect(tampered.codes.contains(.hclVariableDataMismatch), "\(tampered.failures)")
        #expect(tampered.failures.contains { $0.hasPrefix("hcl variable data") })
    }

    @Test("the KBS client hands Azure attesters the digest unpadded, SNP/TDX padded")
    func digestPadding() {
        #expect(KBSClient.takesUnpaddedDigest("az-snp-vtpm"))
        #expect(KBSClient.takesUnpaddedDigest("az-tdx-vtpm"))
        #expect(!KBSClient.takesUnpaddedDigest("snp"))
        #expect(!KBSClient.takesUnpaddedDigest("tdx"))
    }
}
