// SPDX-License-Identifier: Apache-2.0
// The client against an independently written KBS (Python) on 127.0.0.1 over TLS, and hostile brokers.

import KBSClient
import KBSProtocol
import TestSupport
import Testing

extension Subprocess.Result {
    func check() throws {
        guard exitCode == 0 else { throw FixtureError(message: output) }
    }
}

/// A stub KBS in one mode, with its own test CA.
final class StubKBS: @unchecked Sendable {
    let directory: String
    let pki: TestPKI
    let process: BackgroundProcess
    let url: String

    init(mode: String = "normal", resources: [String: String] = ["default/test/key": "stub-secret-value"]) throws {
        directory = try Fixtures.temporaryDirectory("ccagent-stubkbs")
        pki = try TestPKI(directory: directory)
        var arguments = [
            "/usr/bin/env", "python3", Fixtures.repositoryRoot + "/scripts/testing/stub_kbs.py", "--cert",
            pki.serverCertificate, "--key", pki.serverKey, "--mode", mode,
        ]
        for (path, value) in resources { arguments += ["--resource", "\(path)=\(value)"] }
        process = try BackgroundProcess(arguments, logPath: directory + "/stub.log")
        let log = try process.waitFor("listening on https://")
        guard let line = log.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }) else {
            throw FixtureError(message: log)
        }
        url = String(line.dropFirst("listening on ".count))
    }

    func client(keyType: TEEKeyType = .p256, deadline: Double = 4) throws -> KBSClient {
        try KBSClient(
            configuration: KBSClientConfiguration(
                brokerURL: url, trust: .caFile(pki.caPEM), keyType: keyType, deadlineSeconds: deadline,
                connectTimeoutSeconds: 1, requestTimeoutSeconds: 2, maximumResponseBytes: 1 << 20),
            attester: SampleAttester())
    }

    deinit {
        process.stop()
        Fixtures.removeTree(directory)
    }
}

@Suite("KBS client against an independent KBS", .serialized, .tags(.integration))
struct ClientIntegrationTests {
    let resource = ResourcePath("default/test/key") ?? ResourcePath("a/b/c").unsafelyUnwrapped

    @Test("fetches the right bytes with each key type", arguments: TEEKeyType.allCases)
    func fetch(keyType: TEEKeyType) throws {
        let kbs = try StubKBS()
        let client = try kbs.client(keyType: keyType)
        #expect(try client.fetch(resource).unsafeCopyToArray() == Array("stub-secret-value".utf8))
        #expect(try client.fetch(resource).unsafeCopyToArray() == Array("stub-secret-value".utf8))
        #expect(client.attestationCount == 1, "one attestation reused for several resources")
    }

    @Test(
        "ccagent fetch gets the right bytes with simulated SNP evidence, with each key type",
        arguments: ["p256", "p521", "rsa"])
    func fetchSimulatedSNP(keyType: String) throws {
        let kbs = try StubKBS()
        let simulator = kbs.directory + "/sim"
        try Subprocess.run([Binaries.ccagent, "simulator", "init", "--simulator-dir", simulator]).check()
        let out = kbs.directory + "/out"
        let result = try Subprocess.run([
            Binaries.ccagent, "fetch", "--broker", kbs.url, "--ca", kbs.pki.caPEM, "--resource", "default/test/key",
            "--tee", "sim-snp", "--simulator-dir", simulator, "--key-type", keyType, "--out", out,
        ])
        #expect(result.exitCode == 0, "\(result.output)")
        #expect(try Fixtures.readFile(out) == Array("stub-secret-value".utf8))
    }

    @Test(
        "each hostile broker ends in a clear classified error within the deadline",
        arguments: [
            ("slow", [KBSError.Code.timeout]),
            // A connection cut mid-body is a transport failure: reset, or a stall until the timeout.
            ("close-mid-body", [.unreachable, .timeout]), ("huge-body", [.responseTooLarge]),
            ("invalid-json", [.malformedResponse]), ("bad-gcm-tag", [.decryptionFailed]),
            ("wrong-curve-epk", [.decryptionFailed]), ("unknown-cookie", [.attestationFailed]),
            ("html-500", [.serverError]),
            ("version-mismatch", [.versionMismatch]), ("policy-deny", [.policyDeny]),
        ])
    func hostile(mode: String, expected: [KBSError.Code]) throws {
        let kbs = try StubKBS(mode: mode)
        do {
            _ = try kbs.client(deadline: 2.5).fetch(resource)
            Issue.record("\(mode) succeeded")
        } catch let error as KBSError {
            #expect(expected.contains(error.code), "\(mode): \(error)")
            #expect(error.phase != nil && error.url != nil, "\(mode): the error names the phase and URL")
            if mode == "version-mismatch" {
                #expect(error.message.contains("0.4.0") && error.message.contains("0.5.0"))
            }
        }
    }

    @Test("a missing resource is classified without re-attesting")
    func missingResource() throws {
        let kbs = try StubKBS()
        let client = try kbs.client()
        #expect(throws: KBSError(.resourceMissing, "")) {
            _ = try client.fetch(ResourcePath("default/test/absent").unsafelyUnwrapped)
        }
        #expect(client.attestationCount == 1)
    }

    @Test("the first connections failing are retried with backoff until success")
    func retries() throws {
        let kbs = try StubKBS(mode: "fail-first-N")
        #expect(try kbs.client(deadline: 10).fetch(resource).unsafeCopyToArray() == Array("stub-secret-value".utf8))
    }

    @Test("connections closed before the TLS handshake are transient: retried, then success")
    func handshakeCut() throws {
        let kbs = try StubKBS(mode: "handshake-cut-first-N")
        #expect(try kbs.client(deadline: 10).fetch(resource).unsafeCopyToArray() == Array("stub-secret-value".utf8))
    }

    @Test("plain http is refused unless allowed; a wrong CA is a TLS error")
    func transportPolicy() throws {
        #expect(throws: KBSError(.insecureURL, "")) {
            _ = try KBSClient(
                configuration: KBSClientConfiguration(brokerURL: "http://127.0.0.1:1"), attester: SampleAttester())
        }
        let kbs = try StubKBS()
        let other = try TestPKI(directory: kbs.directory + "/..")
        let client = try KBSClient(
            configuration: KBSClientConfiguration(brokerURL: kbs.url, trust: .caFile(other.caPEM), deadlineSeconds: 3),
            attester: SampleAttester())
        #expect(throws: KBSError(.tls, "")) { _ = try client.fetch(resource) }
    }
}
