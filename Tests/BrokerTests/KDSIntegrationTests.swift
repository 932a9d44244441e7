// SPDX-License-Identifier: Apache-2.0
// The broker and SNP evidence without certificates (Trustee's `cert_chain: null`): the VCEK from a KDS
// stand-in, refused with --no-kds, Trustee's own e2e fixture, and `OTHER` entries in `cert_chain`.

import AMDKDS
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

/// SNP evidence as the CoCo attester sends it: the serde JSON of the report and `cert_chain` entries.
func snpEvidence(_ report: SNPReport, chain: [JSONValue]?) -> JSONValue {
    guard case .object(var members) = EvidenceJSON.snp(report: report, certificates: nil) else { return .null }
    members.removeAll { $0.0 == "cert_chain" }
    members.append(("cert_chain", chain.map { .array($0) } ?? .null))
    return .object(members)
}

/// One `cert_chain` entry: `{"cert_type": TYPE, "data": [bytes]}`; TYPE a string or `{"OTHER": uuid}`.
func chainEntry(_ type: JSONValue, _ der: [UInt8]) -> JSONValue {
    .object([("cert_type", type), ("data", .array(der.map { .integer($0) }))])
}

func vcekDER(_ entry: CorpusVCEK.Entry) throws -> [UInt8] {
    try Certificate.parse(pemOrDER: Fixtures.bytes(entry.vcek))[0].der
}

func makeBroker(kds: KDSClient?, audit: Logger = Logger(label: "ccbroker.audit")) throws -> KBSBroker {
    var configuration = BrokerConfiguration(resources: ResourceStore(directory: "/nonexistent"))
    configuration.kds = kds
    return try KBSBroker(configuration: configuration, audit: audit)
}

@Suite("Broker: SNP evidence without its VCEK, from AMD KDS (stand-in)", .serialized, .tags(.integration))
struct KDSIntegrationTests {
    @Test("cert_chain null: the broker fetches each corpus VCEK from KDS and accepts the evidence")
    func certChainNull() throws {
        let kds = try StubKDS()
        let client = try KDSClient(
            configuration: KDSConfiguration(
                baseURL: kds.url, trust: .caFile(kds.pki.caPEM), cacheDirectory: kds.directory + "/cache"))
        let broker = try makeBroker(kds: client)
        for entry in CorpusVCEK.all {
            let report = try SNPReport(parsing: Fixtures.bytes(entry.report))
            let verdict = broker.verifySNP(snpEvidence(report, chain: nil), expectedReportData: report.reportData)
            if report.version < 3 {
                // Trustee's rule: versions 3 to 5 only (UpstreamEdgeCaseTests).
                guard case .failure(let reason) = verdict, reason.contains("version \(report.version)") else {
                    Issue.record("\(entry.report): a version \(report.version) report was not refused: \(verdict)")
                    continue
                }
                continue
            }
            guard case .success(let claims) = verdict else {
                Issue.record("\(entry.report): \(verdict)")
                continue
            }
            #expect(claims["snp"]?["chip_id"]?.stringValue == Hex.encode(report.chipID))
        }
        #expect(kds.requests.allSatisfy { $0.hasPrefix("200 ") }, "\(kds.requests)")
        #expect(!kds.requests.isEmpty)
    }

    @Test("with --no-kds, cert_chain null is refused with what to do; a VCEK in cert_chain still verifies")
    func noKDS() throws {
        let broker = try makeBroker(kds: nil)
        let entry = CorpusVCEK.all[6]
        let report = try SNPReport(parsing: Fixtures.bytes(entry.report))
        let verdict = broker.verifySNP(snpEvidence(report, chain: nil), expectedReportData: report.reportData)
        guard case .failure(let reason) = verdict else {
            Issue.record("accepted without a VCEK: \(verdict)")
            return
        }
        #expect(reason.contains("no VCEK") && reason.contains("--no-kds") && reason.contains("--cert-dir"), "\(reason)")
        let withVCEK = broker.verifySNP(
            snpEvidence(report, chain: [chainEntry(.string("VCEK"), try vcekDER(entry))]),
            expectedReportData: report.reportData)
        guard case .success = withVCEK else {
            Issue.record("a VCEK-only cert_chain was not completed with the shipped ASK/ARK: \(withVCEK)")
            return
        }
    }

    @Test("a KDS failure is a clear refusal, and a wrong VCEK from KDS never verifies")
    func kdsFailures() throws {
        for mode in ["wrong-vcek", "status-500"] {
            let kds = try StubKDS(mode: mode)
            let client = try KDSClient(
                configuration: KDSConfiguration(
                    baseURL: kds.url, trust: .caFile(kds.pki.caPEM), cacheDirectory: kds.directory + "/cache"))
            let report = try SNPReport(parsing: Fixtures.bytes("snp/turin-v5-report.bin"))
            let verdict = try makeBroker(kds: client).verifySNP(
                snpEvidence(report, chain: nil), expectedReportData: report.reportData)
            guard case .failure(let reason) = verdict else {
                Issue.record("\(mode): accepted")
                continue
            }
            #expect(reason.contains("could not be had"), "\(mode): \(reason)")
            #expect((try? FileManager.default.contentsOfDirectory(atPath: kds.directory + "/cache")) ?? [] == [])
        }
    }

    @Test("--kds-crl: without AMD's CRL of the product the evidence is refused, saying so")
    func crlRequired() throws {
        let kds = try StubKDS()
        let client = try KDSClient(
            configuration: KDSConfiguration(
                baseURL: kds.url, trust: .caFile(kds.pki.caPEM), cacheDirectory: kds.directory + "/cache"))
        var configuration = BrokerConfiguration(resources: ResourceStore(directory: "/nonexistent"))
        configuration.kds = client
        configuration.kdsRevocation = true
        let broker = try KBSBroker(configuration: configuration)
        let report = try SNPReport(parsing: Fixtures.bytes("snp/genoa-v3-report.bin"))
        let verdict = broker.verifySNP(snpEvidence(report, chain: nil), expectedReportData: report.reportData)
        guard case .failure(let reason) = verdict else {
            Issue.record("accepted without a CRL")
            return
        }
        #expect(reason.contains("CRL could not be had") && reason.contains("HTTP 404"), "\(reason)")
        #expect(kds.requests.last?.hasPrefix("404 /vcek/v1/Genoa/crl") == true, "\(kds.requests)")
    }

    /// Trustee's `attestation-service/tests/e2e/evidence.json`: the family 19h model A0h report with only
    /// its VCEK in `cert_chain`. Its REPORT_DATA binds Trustee's test nonce, not ours, so the broker must
    /// get through the whole chain (VCEK → shipped Genoa ASK → pinned ARK-Genoa) and stop at the binding.
    @Test("Trustee's e2e fixture gets past the chain and stops only at the REPORT_DATA binding")
    func trusteeFixture() throws {
        let report = try SNPReport(parsing: Fixtures.bytes("snp/genoa-fam19-modA0-v3-report.bin"))
        let vcek = try Fixtures.bytes("snp/genoa-fam19-modA0-v3-vcek.der")
        let evidence = snpEvidence(report, chain: [chainEntry(.string("VCEK"), vcek)])
        let broker = try makeBroker(kds: nil)
        let verdict = broker.verifySNP(evidence, expectedReportData: [UInt8](repeating: 0x5A, count: 64))
        guard case .failure(let reason) = verdict else {
            Issue.record("accepted with a foreign REPORT_DATA")
            return
        }
        #expect(reason == "REPORT_DATA does not bind the runtime data", "\(reason)")
        // Through /auth and /attest: the audit log names the binding as the rule that failed.
        let recorder = AuditRecorder()
        let audited = try makeBroker(kds: nil, audit: recorder.logger)
        let auth = audited.handle(
            BrokerRequest(
                method: "POST", path: "/kbs/v0/auth", cookie: nil, bearer: nil,
                body: AuthRequest(tee: "snp").json.serializedBytes(), peer: "test"))
        let cookie = try #require(
            auth.setCookie?.split(separator: ";").first.map { String($0.dropFirst("kbs-session-id=".count)) })
        let challenge = try Challenge(json: JSONValue.parse(auth.body))
        let runtime = RuntimeData(nonce: challenge.nonce, teePubKey: try TEEKeyPair(type: .p256).publicJWK)
        let attest = audited.handle(
            BrokerRequest(
                method: "POST", path: "/kbs/v0/attest", cookie: cookie, bearer: nil,
                body: AttestationRequest(runtimeData: runtime, primaryEvidence: evidence).json.serializedBytes(),
                peer: "test"))
        #expect(attest.status == 401)
        #expect(
            recorder.lines.contains { $0.metadata["rule"] == "REPORT_DATA does not bind the runtime data" },
            "\(recorder.lines)")
    }

    @Test("an OTHER entry (and an Empty one) in cert_chain is skipped; the evidence still verifies")
    func otherEntrySkipped() throws {
        let entry = CorpusVCEK.all[4]
        let report = try SNPReport(parsing: Fixtures.bytes(entry.report))
        let chain = [
            chainEntry(.object([("OTHER", .string("ecae0c0f-9502-43b1-afa2-0ae2e0d565b6"))]), [1, 2, 3, 4]),
            chainEntry(.string("Empty"), []),
            chainEntry(.string("VCEK"), try vcekDER(entry)),
        ]
        let verdict = try makeBroker(kds: nil).verifySNP(
            snpEvidence(report, chain: chain), expectedReportData: report.reportData)
        guard case .success = verdict else {
            Issue.record("\(verdict)")
            return
        }
        // An OTHER entry without a UUID is malformed evidence.
        let bad = [chainEntry(.object([("OTHER", .integer(1))]), [1])]
        let refused = try makeBroker(kds: nil).verifySNP(
            snpEvidence(report, chain: bad), expectedReportData: report.reportData)
        guard case .failure(let reason) = refused else {
            Issue.record("accepted an OTHER entry without a UUID")
            return
        }
        #expect(reason.contains("OTHER"), "\(reason)")
    }

    /// The attack: a VCEK-looking certificate in an entry of another type must not stand in for the VCEK.
    @Test("a VCEK in an OTHER or ASK entry never counts as the VCEK")
    func vcekOfAnotherType() throws {
        let entry = CorpusVCEK.all[4]
        let report = try SNPReport(parsing: Fixtures.bytes(entry.report))
        let vcek = try vcekDER(entry)
        // The real VCEK, but typed OTHER: with KDS off the evidence has no VCEK.
        let asOther = try makeBroker(kds: nil).verifySNP(
            snpEvidence(report, chain: [chainEntry(.object([("OTHER", .string(UUID().uuidString))]), vcek)]),
            expectedReportData: report.reportData)
        guard case .failure(let reason) = asOther else {
            Issue.record("an OTHER entry was used as the VCEK")
            return
        }
        #expect(reason.contains("no VCEK"), "\(reason)")
        // Another chip's VCEK typed ASK, listed before the real VCEK: the real one is still the leaf.
        let other = try vcekDER(CorpusVCEK.all[0])
        let decoy = try makeBroker(kds: nil).verifySNP(
            snpEvidence(report, chain: [chainEntry(.string("ASK"), other), chainEntry(.string("VCEK"), vcek)]),
            expectedReportData: report.reportData)
        guard case .success = decoy else {
            Issue.record("a decoy in an ASK entry displaced the VCEK: \(decoy)")
            return
        }
    }
}

/// The built ccbroker over HTTPS, driven with curl the way a CoCo guest would post Trustee's evidence.
@Suite("ccbroker binary: --kds-url and --no-kds", .serialized, .tags(.integration))
struct BrokerKDSBinaryIntegrationTests {
    /// /auth then /attest with `evidence(nonce)`; returns the /attest HTTP status.
    func attest(_ broker: BrokerProcess, ca: String, directory: String, evidence: JSONValue) throws -> String {
        let jar = directory + "/cookies"
        let auth = try Subprocess.run([
            "/usr/bin/curl", "-sS", "--cacert", ca, "-c", jar, "-H", "Content-Type: application/json", "--data-binary",
            String(decoding: AuthRequest(tee: "snp").json.serializedBytes(), as: UTF8.self),
            broker.url + "/kbs/v0/auth",
        ])
        let challenge = try Challenge(json: JSONValue.parse(Array(auth.output.utf8)))
        let runtime = RuntimeData(nonce: challenge.nonce, teePubKey: try TEEKeyPair(type: .p256).publicJWK)
        let body = directory + "/attest.json"
        try Data(AttestationRequest(runtimeData: runtime, primaryEvidence: evidence).json.serializedBytes())
            .write(to: URL(fileURLWithPath: body))
        return try Subprocess.run([
            "/usr/bin/curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, "-b", jar, "-H",
            "Content-Type: application/json", "--data-binary", "@" + body, broker.url + "/kbs/v0/attest",
        ]).output
    }

    @Test(
        "cert_chain null: the binary fetches the VCEK from --kds-url and gets to the binding; --no-kds says what to do")
    func binary() throws {
        let kds = try StubKDS()
        let directory = kds.directory
        let report = try SNPReport(parsing: Fixtures.bytes("snp/genoa-fam19-modA0-v3-report.bin"))
        let evidence = snpEvidence(report, chain: nil)
        let cache = directory + "/broker-cache"
        let broker = try BrokerProcess(
            pki: kds.pki, directory: directory,
            extraArguments: ["--kds-url", kds.url, "--kds-ca", kds.pki.caPEM, "--kds-cache", cache])
        #expect(try attest(broker, ca: kds.pki.caPEM, directory: directory, evidence: evidence) == "401")
        // The chain (VCEK from the stand-in → shipped Genoa ASK → pinned ARK) passed; the binding did not.
        #expect(broker.process.log.contains("REPORT_DATA does not bind the runtime data"), "\(broker.process.log)")
        #expect(kds.requests.count == 1 && kds.requests[0].hasPrefix("200 /vcek/v1/Genoa/"), "\(kds.requests)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []).count == 1)
        broker.process.stop()

        let offDirectory = directory + "/off"
        try FileManager.default.createDirectory(atPath: offDirectory, withIntermediateDirectories: true)
        let off = try BrokerProcess(pki: kds.pki, directory: offDirectory, extraArguments: ["--no-kds"])
        #expect(try attest(off, ca: kds.pki.caPEM, directory: offDirectory, evidence: evidence) == "401")
        #expect(off.process.log.contains("--no-kds") && off.process.log.contains("--cert-dir"), "\(off.process.log)")
        #expect(kds.requests.count == 1, "--no-kds asked KDS: \(kds.requests)")
        off.process.stop()
    }

    /// The claim of ``KBSBroker/handleOffExecutor(_:)``: KDS requests that hang (more of them than the
    /// machine has cores) do not stall the broker for other clients.
    @Test("hanging KDS fetches do not stall /auth for other clients")
    func hangingFetchesDoNotStall() throws {
        let kds = try StubKDS(mode: "hang")
        let directory = kds.directory
        let report = try SNPReport(parsing: Fixtures.bytes("snp/genoa-v3-report.bin"))
        let broker = try BrokerProcess(
            pki: kds.pki, directory: directory,
            extraArguments: [
                "--kds-url", kds.url, "--kds-ca", kds.pki.caPEM, "--kds-cache", directory + "/cache", "--kds-timeout",
                "6",
            ])
        let requestBody = { (nonce: String) -> [UInt8] in
            let runtime = RuntimeData(nonce: nonce, teePubKey: (try? TEEKeyPair(type: .p256))!.publicJWK)
            return AttestationRequest(runtimeData: runtime, primaryEvidence: snpEvidence(report, chain: nil)).json
                .serializedBytes()
        }
        var pending: [BackgroundProcess] = []
        for index in 0..<6 {
            let jar = directory + "/jar\(index)"
            let auth = try Subprocess.run([
                "/usr/bin/curl", "-sS", "--cacert", kds.pki.caPEM, "-c", jar, "-H", "Content-Type: application/json",
                "--data-binary", String(decoding: AuthRequest(tee: "snp").json.serializedBytes(), as: UTF8.self),
                broker.url + "/kbs/v0/auth",
            ])
            let nonce = try Challenge(json: JSONValue.parse(Array(auth.output.utf8))).nonce
            let body = directory + "/attest\(index).json"
            try Data(requestBody(nonce)).write(to: URL(fileURLWithPath: body))
            pending.append(
                try BackgroundProcess(
                    [
                        "/usr/bin/curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", kds.pki.caPEM,
                        "-b", jar, "-H", "Content-Type: application/json", "--data-binary", "@" + body,
                        broker.url + "/kbs/v0/attest",
                    ], logPath: directory + "/attest\(index).out"))
        }
        // Every attest is now waiting on the hanging KDS.
        usleep(1_500_000)
        let start = Date()
        let auth = try Subprocess.run([
            "/usr/bin/curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "--cacert",
            kds.pki.caPEM, "-H", "Content-Type: application/json", "--data-binary",
            String(decoding: AuthRequest(tee: "snp").json.serializedBytes(), as: UTF8.self),
            broker.url + "/kbs/v0/auth",
        ])
        let elapsed = Date().timeIntervalSince(start)
        #expect(auth.output == "200", "\(auth.output)")
        #expect(elapsed < 2, "/auth took \(elapsed) s while KDS fetches hung")
        // The hung attests end at the KDS timeout with a refusal that names it.
        for process in pending { _ = try process.waitFor("401", seconds: 20) }
        #expect(broker.process.log.contains("no answer within 6.0 s"), "\(broker.process.log)")
        broker.process.stop()
    }
}
