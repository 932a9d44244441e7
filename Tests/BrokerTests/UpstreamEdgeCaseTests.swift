// SPDX-License-Identifier: Apache-2.0
// Trustee's own edge cases, as its source decides them: the /auth version rule and members, the status of
// odd requests, the tee-pubkey hashed as received, SM3, and no silent allow-all.

import AgentBase
import CanonicalJSON
import Cryptography
import Foundation
import KBSProtocol
import Logging
import TEEEvidence
import TestSupport
import Testing

@testable import Broker

@Suite("Trustee's edge cases")
struct UpstreamEdgeCaseTests {
    @Test(
        "versions are SemVer, matched as '=0.4.0': build metadata ignored, pre-releases and sloppy forms refused",
        arguments: [
            ("0.4.0", true), ("0.4.0+build.7", true), ("0.4.0+0a-b", true),
            ("0.4.0-rc.1", false), ("0.4.0-alpha", false), ("0.3.0", false), ("0.4.1", false), ("1.4.0", false),
        ])
    func versionRule(version: String, accepted: Bool) throws {
        let request = AuthRequest(version: version, tee: "sample")
        #expect((request.versionRefusal == nil) == accepted, "\(version): \(request.versionRefusal ?? "accepted")")
        if !accepted {
            #expect(request.versionRefusal?.contains("expect =0.4.0 while the request is \(version)") == true)
        }
    }

    @Test(
        "a version that is not SemVer is 'failed to parse KBS version'",
        arguments: [
            "v0.4.0", "0.4", "0.4.0.0", "00.4.0", "0.04.0", " 0.4.0", "0.4.0 ", "0.4.0+", "0.4.0-", "0.4.0-01", "",
        ])
    func unparsableVersion(version: String) throws {
        #expect(SemanticVersion(version) == nil)
        let harness = try BrokerHarness()
        let response = harness.post("/kbs/v0/auth", AuthRequest(version: version, tee: "sample").json)
        #expect(response.status == 401 && harness.errorVariant(response) == "AttestationError")
        #expect(String(decoding: response.body, as: UTF8.self).contains("failed to parse KBS version"))
    }

    @Test("/auth requires extra-params (any JSON value, null included), as Trustee's Request does")
    func extraParamsRequired() throws {
        let harness = try BrokerHarness()
        let missing = harness.post(
            "/kbs/v0/auth", .object([("version", .string("0.4.0")), ("tee", .string("sample"))]))
        #expect(missing.status == 401 && harness.errorVariant(missing) == "AttestationError")
        #expect(String(decoding: missing.body, as: UTF8.self).contains("deserialize Request"))
        for extra: JSONValue in [.null, .string(""), .object([])] {
            let response = harness.post(
                "/kbs/v0/auth",
                .object([("version", .string("0.4.0")), ("tee", .string("sample")), ("extra-params", extra)]))
            #expect(response.status == 200, "extra-params \(extra)")
        }
    }

    @Test("GET /kbs/v0/auth and /attest are 404 PluginNotFound; a malformed resource path is 401 after the token")
    func statuses() throws {
        let harness = try BrokerHarness()
        for path in ["/kbs/v0/auth", "/kbs/v0/attest"] {
            let response = harness.get(path)
            #expect(response.status == 404 && harness.errorVariant(response) == "PluginNotFound", "\(path)")
        }
        // No token: the token is checked before the path is parsed, so no path is probed without one.
        for path in ["/kbs/v0/resource/only/two", "/kbs/v0/resource/a/b/c/d", "/kbs/v0/resource/../x/y"] {
            let response = harness.get(path)
            #expect(response.status == 401 && harness.errorVariant(response) == "TokenNotFound", "\(path)")
        }
        // With a token the policy runs, then the plugin fails to parse the path.
        let (cookie, _, _) = try harness.attest()
        let malformed = harness.get("/kbs/v0/resource/only/two", cookie: cookie)
        #expect(malformed.status == 401 && harness.errorVariant(malformed) == "PluginInternalError")
        let post = harness.post("/kbs/v0/resource/a/b/c", .object([]))
        #expect(post.status == 401 && harness.errorVariant(post) == "AdminAuthAccess")
    }

    @Test("the audit line names a malformed path without the client's control characters")
    func auditedPathIsPrintable() throws {
        let recorder = AuditRecorder()
        let harness = try BrokerHarness(audit: recorder.logger)
        let (cookie, _, _) = try harness.attest()
        _ = harness.get("/kbs/v0/resource/a/b\n\u{1b}[2Jforged audit line", cookie: cookie)
        let line = try #require(recorder.lines.last { $0.message == "resource deny" })
        #expect(line.metadata["rule"] == "malformed resource path (REPO/TYPE/TAG)")
        #expect(line.metadata["resource"] == "a/b??[2Jforged audit line")
    }

    @Test("an RSA tee-pubkey whose n has a leading zero byte binds as received (Trustee hashes the strings)")
    func teePubKeyHashedAsReceived() throws {
        let key = try PrivateKey.generateRSA(bits: 2048)
        let (n, e) = try #require(key.publicKey.rsaComponents)
        let padded = Base64.encodeURL([0] + n)
        let received = JSONValue.object([
            ("kty", .string("RSA")), ("alg", .string("RSA-OAEP-256")), ("n", .string(padded)),
            ("e", .string(Base64.encodeURL(e))), ("kid", .string("dropped, as Trustee drops it")),
        ])
        let body = JSONValue.object([
            ("runtime-data", .object([("nonce", .string("bm9uY2U=")), ("tee-pubkey", received)])),
            ("tee-evidence", .object([("primary_evidence", .object([])), ("additional_evidence", .string(""))])),
        ])
        let request = try AttestationRequest(json: body)
        let expected =
            "{\"additional-evidence\":\"\",\"nonce\":\"bm9uY2U=\",\"tee-pubkey\":{\"alg\":\"RSA-OAEP-256\","
            + "\"e\":\"\(Base64.encodeURL(e))\",\"kty\":\"RSA\",\"n\":\"\(padded)\"}}"
        #expect(String(decoding: request.runtimeData.canonicalBytes, as: UTF8.self) == expected)
        #expect(request.runtimeData.digest(.sha384) == DigestAlgorithm.sha384.hash(Array(expected.utf8)))
        // The parsed key is still the key (encryption to it works).
        #expect(request.runtimeData.teePubKey.key.rsaComponents?.0 == n)
    }

    @Test("SM3 is computed (GB/T 32905 'abc' vector), advertised, and accepted when a broker selects it")
    func sm3() throws {
        #expect(
            Hex.encode(DigestAlgorithm.sm3.hash(Array("abc".utf8)))
                == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
        let advertised = AuthRequest(tee: "snp").json["extra-params"]?["supported-hash-algorithms"]
        #expect(advertised == .array(["sha256", "sha384", "sha512", "sm3"].map { .string($0) }))
        let challenge = try Challenge(
            json: .object([
                ("nonce", .string("bm9uY2U=")),
                ("extra-params", .object([("selected-hash-algorithm", .string("sm3"))])),
            ]))
        #expect(challenge.selectedHash == .sm3)
    }

    @Test("SNP report versions 3 to 5 are accepted as Trustee accepts them; version 2 is refused before the chain")
    func snpReportVersions() throws {
        let broker = try KBSBroker(
            configuration: BrokerConfiguration(resources: ResourceStore(directory: "/nonexistent")))
        for file in ["snp/milan-v2-gosevguest-report.bin", "snp/genoa-v3-report.bin", "snp/turin-v5-report.bin"] {
            let report = try SNPReport(parsing: Fixtures.bytes(file))
            let verdict = broker.verifySNP(
                EvidenceJSON.snp(report: report, certificates: nil), expectedReportData: report.reportData)
            guard case .failure(let reason) = verdict else {
                Issue.record("\(file): accepted without its VCEK or a KDS: \(verdict)")
                continue
            }
            #expect(
                reason.contains("SNP report version \(report.version) is not accepted") == (report.version == 2),
                "\(file): \(reason)")
        }
    }

    @Test("with --allow-any-measurement every audit line says so")
    func allowAnyMeasurementIsAudited() throws {
        let recorder = AuditRecorder()
        let directory = try Fixtures.temporaryDirectory("ccagent-broker")
        var configuration = BrokerConfiguration(
            resources: ResourceStore(directory: directory + "/resources"), allowSample: true)
        configuration.allowAnyMeasurement = true
        let broker = try KBSBroker(configuration: configuration, audit: recorder.logger)
        _ = broker.handle(
            BrokerRequest(method: "GET", path: "/kbs/v0/resource/a/b/c", cookie: nil, bearer: nil, body: [], peer: "t"))
        let line = try #require(recorder.lines.last)
        #expect(line.metadata["policy"] == "allow-any-measurement")
    }
}

@Suite("ccbroker serve without a policy", .tags(.integration))
struct BrokerPolicyRequiredIntegrationTests {
    @Test("refuses to start without --policy, saying what to do; --allow-any-measurement starts it with a warning")
    func policyRequired() throws {
        let directory = try Fixtures.temporaryDirectory("ccagent-broker")
        let refused = try Subprocess.run([
            Binaries.ccbroker, "serve", "--listen", "127.0.0.1:0", "--resources", directory,
        ])
        #expect(refused.exitCode == 64)
        #expect(refused.output.contains("no appraisal policy") && refused.output.contains("--policy FILE"))
        let both = try Subprocess.run([
            Binaries.ccbroker, "serve", "--listen", "127.0.0.1:0", "--resources", directory, "--policy", "/dev/null",
            "--allow-any-measurement",
        ])
        #expect(both.exitCode == 64)
        let broker = try BrokerProcess(plainHTTPIn: directory)
        defer { broker.process.stop() }
        #expect(try broker.process.waitFor("WARNING: --allow-any-measurement").contains("no appraisal policy"))
    }
}
