// SPDX-License-Identifier: Apache-2.0
// ccbroker with Azure vTPM evidence: verifyAzure on the real fixtures, the RCAR refusal, the `azure` policy.

import AgentBase
import CanonicalJSON
import Cryptography
import Foundation
import KBSProtocol
import Logging
import SecureMemory
import TestSupport
import Testing

@testable import Broker

/// An Azure fixture with its expected report data (the fixtures' nonces are fixed, so no live session
/// can reproduce them: `verifyAzure` is called directly with them).
struct AzureBrokerVector: CustomTestStringConvertible, Sendable {
    var file: String
    var tee: String
    var reportData: String
    var pcr0: String
    var at: String
    var testDescription: String { file }

    static let challenge = "6368616c6c656e6765"
    static let all: [AzureBrokerVector] = [
        .init(
            file: "azure/snp-vtpm/evidence-v0.json", tee: "az-snp-vtpm", reportData: challenge,
            pcr0: "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced", at: "2026-06-01T00:00:00Z"),
        .init(
            file: "azure/snp-vtpm/evidence-v1.json", tee: "az-snp-vtpm", reportData: challenge,
            pcr0: "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced", at: "2026-06-01T00:00:00Z"),
        .init(
            file: "azure/snp-vtpm/evidence-v2.json", tee: "az-snp-vtpm",
            reportData:
                "982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef",
            pcr0: "84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7", at: "2026-06-01T00:00:00Z"),
        .init(
            file: "azure/snp-vtpm/evidence-genoa.json", tee: "az-snp-vtpm",
            reportData:
                "0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938ca05475f8b46094de6b64270ea35d950f",
            pcr0: "afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338", at: "2026-06-01T00:00:00Z"),
        .init(
            file: "azure/tdx-vtpm/evidence-v0.json", tee: "az-tdx-vtpm", reportData: challenge,
            pcr0: "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273", at: "2024-06-01T00:00:00Z"),
        .init(
            file: "azure/tdx-vtpm/evidence-v1.json", tee: "az-tdx-vtpm", reportData: challenge,
            pcr0: "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273", at: "2024-06-01T00:00:00Z"),
    ]

    var evidence: JSONValue { get throws { try JSONValue.parse(Fixtures.bytes(file)) } }
    var date: Timestamp { get throws { try #require(Timestamp(iso8601: at)) } }
    var expected: [UInt8] { hexBytes(reportData) }
}

private func hexBytes(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex, let next = text.index(index, offsetBy: 2, limitedBy: text.endIndex),
        let byte = UInt8(text[index..<next], radix: 16)
    {
        bytes.append(byte)
        index = next
    }
    return bytes
}

/// A broker with AMD's ASK/ARK as extra certificates (until they are compiled in) and a resource.
struct AzureBrokerHarness {
    let directory: String
    let broker: KBSBroker
    let store: ResourceStore

    init(policy: AppraisalPolicy = AppraisalPolicy(), audit: Logger = Logger(label: "ccbroker.audit")) throws {
        directory = try Fixtures.temporaryDirectory("ccagent-broker")
        store = ResourceStore(directory: directory + "/resources")
        let amd = try ["certs/amd-milan-vcek-ask-ark.pem", "certs/amd-genoa-vcek-ask-ark.pem"].flatMap {
            try Certificate.parse(pemOrDER: Fixtures.bytes($0))
        }
        let configuration = BrokerConfiguration(resources: store, policy: policy, certificates: amd)
        broker = try KBSBroker(configuration: configuration, audit: audit)
        guard let path = ResourcePath("default/key/one") else { throw FixtureError(message: "resource path") }
        try store.put(path, value: SecretBytes(copying: Array("v1".utf8)))
    }

    /// The resource GET with a token carrying `claims` from a successful verification.
    func fetch(tee: String, claims: JSONValue) throws -> BrokerResponse {
        let key = try TEEKeyPair(type: .p256)
        let token = try broker.issueToken(
            tee: tee, claims: claims, runtime: RuntimeData(nonce: "n", teePubKey: key.publicJWK))
        return broker.handle(
            BrokerRequest(
                method: "GET", path: "/kbs/v0/resource/default/key/one", cookie: nil, bearer: token, body: [],
                peer: "test"))
    }
}

@Suite("ccbroker with Azure vTPM evidence")
struct AzureBrokerTests {
    @Test(
        "verifyAzure accepts every fixture with its report data; the claims carry the PCRs and the raw report",
        arguments: AzureBrokerVector.all)
    func accepts(vector: AzureBrokerVector) throws {
        let harness = try AzureBrokerHarness()
        defer { Fixtures.removeTree(harness.directory) }
        let verdict = harness.broker.verifyAzure(
            try vector.evidence, tee: vector.tee, expectedReportData: vector.expected, at: try vector.date)
        guard case .success(let claims) = verdict else {
            Issue.record("refused: \(verdict)")
            return
        }
        #expect(claims["report_data"]?.stringValue == vector.reportData)
        #expect(claims["azure"]?["pcrs"]?.arrayValue?.count == 24)
        #expect(claims["azure"]?["pcrs"]?.arrayValue?.first?.stringValue == vector.pcr0)
        #expect(claims["tpm"]?["pcr00"]?.stringValue == vector.pcr0)
        let raw = vector.tee == "az-snp-vtpm" ? claims["snp"]?["raw_report"] : claims["tdx"]?["raw_quote"]
        #expect(raw?.stringValue.flatMap(Base64.decode) != nil)
        // The token's claims pass the default policy at the resource endpoint.
        #expect(try harness.fetch(tee: vector.tee, claims: claims).status == 200)
    }

    @Test(
        "verifyAzure refuses a wrong report data, the zero-padded one, and the other Azure TEE's name",
        arguments: AzureBrokerVector.all)
    func refuses(vector: AzureBrokerVector) throws {
        let harness = try AzureBrokerHarness()
        defer { Fixtures.removeTree(harness.directory) }
        let evidence = try vector.evidence
        let wrong = vector.expected.map { $0 ^ 0x01 }
        guard
            case .failure(let reason) = harness.broker.verifyAzure(
                evidence, tee: vector.tee, expectedReportData: wrong, at: try vector.date)
        else {
            Issue.record("a wrong report data was accepted")
            return
        }
        #expect(reason.contains("tpm quote nonce"), "\(reason)")
        // The SNP/TDX binding rule (digest zero-padded to 64 bytes) is not the one of these TEEs.
        let padded = Array((vector.expected + [UInt8](repeating: 0, count: 64)).prefix(64))
        guard
            case .failure = harness.broker.verifyAzure(
                evidence, tee: vector.tee, expectedReportData: padded, at: try vector.date)
        else {
            Issue.record("the zero-padded report data was accepted")
            return
        }
        let other = vector.tee == "az-snp-vtpm" ? "az-tdx-vtpm" : "az-snp-vtpm"
        guard
            case .failure(let mismatch) = harness.broker.verifyAzure(
                evidence, tee: other, expectedReportData: vector.expected, at: try vector.date)
        else {
            Issue.record("evidence of the other TEE was accepted")
            return
        }
        #expect(mismatch.contains("not the one of '\(other)'"), "\(mismatch)")
    }

    @Test(
        "/auth accepts both Azure TEEs; /attest refuses a replayed fixture, whose nonce does not bind this session",
        arguments: AzureBrokerVector.all)
    func replayRefused(vector: AzureBrokerVector) throws {
        let recorder = AuditRecorder()
        let harness = try AzureBrokerHarness(audit: recorder.logger)
        defer { Fixtures.removeTree(harness.directory) }
        func post(_ path: String, _ body: JSONValue, cookie: String? = nil) -> BrokerResponse {
            harness.broker.handle(
                BrokerRequest(
                    method: "POST", path: path, cookie: cookie, bearer: nil, body: body.serializedBytes(), peer: "test")
            )
        }
        let auth = post("/kbs/v0/auth", AuthRequest(tee: vector.tee).json)
        #expect(auth.status == 200, "\(String(decoding: auth.body, as: UTF8.self))")
        let cookie = try #require(
            auth.setCookie?.split(separator: ";").first.map { String($0.dropFirst("kbs-session-id=".count)) })
        let challenge = try Challenge(json: JSONValue.parse(auth.body))
        let key = try TEEKeyPair(type: .p256)
        let body = AttestationRequest(
            runtimeData: RuntimeData(nonce: challenge.nonce, teePubKey: key.publicJWK),
            primaryEvidence: try vector.evidence)
        let attest = post("/kbs/v0/attest", body.json, cookie: cookie)
        #expect(attest.status == 401)
        #expect(ErrorInformation(body: attest.body)?.variant == "AttestationError")
        let line = try #require(recorder.lines.last)
        #expect(line.message == "attest deny")
        #expect(line.metadata["rule"]?.contains("tpm quote nonce") == true, "\(line.metadata)")
    }

    @Test("the `azure` policy constrains PCRs; the hardware report still meets the `snp` rules")
    func policy() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.removeTree(directory) }
        let vector = AzureBrokerVector.all[2]
        let pcr0 = vector.pcr0
        let other = String(repeating: "ab", count: 32)
        func load(_ text: String) throws -> AppraisalPolicy {
            try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/p.json"))
            return try AppraisalPolicy(contentsOf: directory + "/p.json")
        }
        let allowing = try load(#"{"default":{"azure":{"pcrs":{"0":["\#(pcr0)"],"4":[]}}}}"#)
        #expect(allowing.global.azure.pcrs[0] == [pcr0])
        let denying = try load(#"{"default":{"azure":{"pcrs":{"0":["\#(other)"]}}}}"#)
        let wrongMeasurement = try load(#"{"default":{"snp":{"measurements":["\#(other)\#(other.prefix(32))"]}}}"#)

        let verifier = try AzureBrokerHarness()
        defer { Fixtures.removeTree(verifier.directory) }
        guard
            case .success(let claims) = verifier.broker.verifyAzure(
                try vector.evidence, tee: vector.tee, expectedReportData: vector.expected, at: try vector.date)
        else { throw FixtureError(message: "the fixture did not verify") }

        let recorder = AuditRecorder()
        for (policy, allowed, rule) in [
            (allowing, true, ""), (denying, false, "azure.pcrs.0: \(pcr0) is not in the allowlist"),
            (wrongMeasurement, false, "snp.measurements: "),
        ] {
            let harness = try AzureBrokerHarness(policy: policy, audit: recorder.logger)
            defer { Fixtures.removeTree(harness.directory) }
            let response = try harness.fetch(tee: vector.tee, claims: claims)
            #expect((response.status == 200) == allowed)
            if !allowed {
                #expect(
                    recorder.lines.last?.metadata["rule"]?.hasPrefix(rule) == true,
                    "\(String(describing: recorder.lines.last))")
            }
        }
        // A token without the PCRs (or the raw report) is denied as unreadable, never allowed.
        let harness = try AzureBrokerHarness(audit: recorder.logger)
        defer { Fixtures.removeTree(harness.directory) }
        guard case .object(let members) = claims else { throw FixtureError(message: "claims") }
        for dropped in ["azure", "snp"] {
            let response = try harness.fetch(tee: vector.tee, claims: .object(members.filter { $0.0 != dropped }))
            #expect(response.status == 401)
            #expect(recorder.lines.last?.metadata["rule"]?.hasPrefix("unreadable evidence: ") == true)
        }
        // min_evidence_version: v2 evidence passes a v2 minimum; the v1 capture does not.
        let v1Vector = AzureBrokerVector.all[1]
        guard
            case .success(let v1Claims) = verifier.broker.verifyAzure(
                try v1Vector.evidence, tee: v1Vector.tee, expectedReportData: v1Vector.expected, at: try v1Vector.date)
        else { throw FixtureError(message: "the v1 fixture did not verify") }
        let v2Only = try load(#"{"default":{"azure":{"min_evidence_version":2}}}"#)
        let strict = try AzureBrokerHarness(policy: v2Only, audit: recorder.logger)
        defer { Fixtures.removeTree(strict.directory) }
        #expect(try strict.fetch(tee: vector.tee, claims: claims).status == 200)
        #expect(try strict.fetch(tee: v1Vector.tee, claims: v1Claims).status == 401)
        #expect(recorder.lines.last?.metadata["rule"] == "azure.min_evidence_version: evidence v1 < v2")
        for bad in [
            #"{"default":{"azure":{"min_evidence_version":3}}}"#,
            #"{"default":{"azure":{"pcrs":{"24":[]}}}}"#, #"{"default":{"azure":{"pcrs":{"04":[]}}}}"#,
            #"{"default":{"azure":{"pcrs":{"4":["00"]}}}}"#, #"{"default":{"azure":{"pcr":{}}}}"#,
            #"{"default":{"azure":{"pcrs":[]}}}"#,
        ] {
            #expect(throws: BrokerError.self) { _ = try load(bad) }
        }
    }
}

/// The refusal over real HTTP: the ccbroker binary on loopback, curl with a cookie jar.
@Suite("ccbroker over HTTP with Azure vTPM evidence", .tags(.integration))
struct AzureBrokerHTTPIntegrationTests {
    @Test("a replayed az-snp-vtpm fixture is refused at /attest with AttestationError; the audit names the nonce")
    func replayOverHTTP() throws {
        let directory = try Fixtures.temporaryDirectory("ccagent-azure-http")
        defer { Fixtures.removeTree(directory) }
        let broker = try BrokerProcess(
            plainHTTPIn: directory, extraArguments: ["--cert-dir", Fixtures.testVectors + "/certs"])
        defer { broker.process.stop() }
        let jar = directory + "/cookies"
        func curl(_ path: String, _ body: JSONValue) throws -> Subprocess.Result {
            let file = directory + "/body.json"
            try Data(body.serializedBytes()).write(to: URL(fileURLWithPath: file))
            return try Subprocess.run([
                "/usr/bin/curl", "-sS", "-c", jar, "-b", jar, "-H", "Content-Type: application/json",
                "--data-binary", "@" + file, "-w", "\n%{http_code}", broker.url + path,
            ])
        }
        let auth = try curl("/kbs/v0/auth", AuthRequest(tee: "az-snp-vtpm").json)
        #expect(auth.output.hasSuffix("\n200"), "\(auth.output)")
        let challenge = try Challenge(
            json: JSONValue.parse(Array(auth.output.split(separator: "\n").dropLast().joined().utf8)))
        let key = try TEEKeyPair(type: .p256)
        let body = AttestationRequest(
            runtimeData: RuntimeData(nonce: challenge.nonce, teePubKey: key.publicJWK),
            primaryEvidence: try JSONValue.parse(Fixtures.bytes("azure/snp-vtpm/evidence-v2.json")))
        let attest = try curl("/kbs/v0/attest", body.json)
        #expect(attest.output.hasSuffix("\n401"), "\(attest.output)")
        #expect(attest.output.contains("AttestationError"))
        let log = try broker.process.waitFor("attest deny")
        #expect(log.contains("tpm quote nonce"), "\(log)")
    }
}
