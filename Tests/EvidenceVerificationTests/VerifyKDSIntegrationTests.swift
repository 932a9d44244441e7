// SPDX-License-Identifier: Apache-2.0
// `ccagent verify snp` with no certificates: the VCEK from a KDS stand-in over TLS, then from the cache
// offline; and every way the stand-in can fail gives a clear failure and caches nothing.

import AMDKDS
import AgentBase
import Cryptography
import FoundationEssentials
import TEEEvidence
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("ccagent verify snp with AMD KDS (stand-in)", .serialized, .tags(.integration))
struct VerifyKDSIntegrationTests {
    func verify(_ arguments: [String]) throws -> Subprocess.Result {
        try Subprocess.run([Binaries.ccagent, "verify", "snp", "--at", CorpusVCEK.time] + arguments)
    }

    func files(in directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    }

    @Test("every corpus VCEK-signed report verifies from KDS alone, then offline from the cache")
    func fetchThenOffline() throws {
        let kds = try StubKDS()
        let cache = kds.directory + "/cache"
        for entry in CorpusVCEK.all {
            let result = try verify([
                "--report", Fixtures.testVectors + "/" + entry.report, "--kds-url", kds.url, "--kds-ca", kds.pki.caPEM,
                "--kds-cache", cache,
            ])
            #expect(result.exitCode == 0, "\(entry.report): \(result.output)")
            #expect(result.output.contains("vcek chain to AMD ARK-\(entry.product)"), "\(result.output)")
        }
        let requests = kds.requests
        #expect(requests.allSatisfy { $0.hasPrefix("200 /vcek/v1/") }, "\(requests)")
        // One fetch per distinct chip and TCB: the two GCP reports share theirs, the second comes from the cache.
        #expect(requests.count == CorpusVCEK.all.count - 1, "\(requests)")
        #expect(Set(requests).count == requests.count, "\(requests)")
        #expect(files(in: cache).count == CorpusVCEK.all.count - 1)
        for name in files(in: cache) {
            var info = stat()
            #expect(stat(cache + "/" + name, &info) == 0 && info.st_mode & 0o777 == 0o644, "\(name)")
        }

        kds.stop()
        for entry in CorpusVCEK.all {
            let result = try verify([
                "--report", Fixtures.testVectors + "/" + entry.report, "--kds-url", kds.url, "--kds-cache", cache,
                "--kds-offline",
            ])
            #expect(result.exitCode == 0, "offline \(entry.report): \(result.output)")
        }
        // Offline with an empty cache: not trusted, and it says what to do.
        let empty = try verify([
            "--report", Fixtures.testVectors + "/snp/turin-v5-report.bin", "--kds-url", kds.url, "--kds-cache",
            kds.directory + "/empty", "--kds-offline",
        ])
        #expect(empty.exitCode == 2, "\(empty.output)")
        #expect(empty.output.contains("--kds-offline") && empty.output.contains("--cert"), "\(empty.output)")
    }

    @Test("given only the VCEK, a report verifies with the shipped ASK and ARK without asking KDS")
    func onlyTheVCEK() throws {
        for entry in CorpusVCEK.all {
            let result = try verify([
                "--report", Fixtures.testVectors + "/" + entry.report, "--cert",
                Fixtures.testVectors + "/" + entry.vcek,
                "--no-kds",
            ])
            #expect(result.exitCode == 0, "\(entry.report): \(result.output)")
        }
    }

    @Test(
        "a wrong VCEK, a truncated or oversized body, a hang, or HTTP 500: a clear failure and nothing cached",
        arguments: [
            ("wrong-vcek", "not AMD's VCEK for this report"), ("truncated", "not a DER certificate"),
            ("oversized", "exceeded"), ("hang", "no answer within"), ("status-500", "HTTP 500"),
        ])
    func hostile(mode: String, expected: String) throws {
        let kds = try StubKDS(mode: mode)
        let cache = kds.directory + "/cache"
        let start = Date()
        let result = try verify([
            "--report", Fixtures.testVectors + "/snp/genoa-v3-report.bin", "--kds-url", kds.url, "--kds-ca",
            kds.pki.caPEM, "--kds-cache", cache, "--kds-timeout", "2",
        ])
        #expect(result.exitCode == 2, "\(mode): \(result.output)")
        #expect(result.output.contains(expected), "\(mode): \(result.output)")
        #expect(result.output.contains("no VCEK certificate given"), "\(mode): \(result.output)")
        #expect(files(in: cache).isEmpty, "\(mode): something was cached")
        #expect(Date().timeIntervalSince(start) < 10, "\(mode): the timeout bounds the wait")
        #expect(kds.requests.count == 1 || mode == "hang", "\(kds.requests)")
    }

    @Test("a cache that cannot be written costs a warning, not the verification")
    func unwritableCache() throws {
        let kds = try StubKDS()
        let notADirectory = kds.directory + "/file"
        try FileIO.writeAtomically(path: notADirectory, mode: 0o644, bytes: [1])
        let result = try verify([
            "--report", Fixtures.testVectors + "/snp/turin-v5-report.bin", "--kds-url", kds.url, "--kds-ca",
            kds.pki.caPEM, "--kds-cache", notADirectory + "/cache",
        ])
        #expect(result.exitCode == 0, "\(result.output)")
        #expect(result.output.contains("warning: failed to cache"), "\(result.output)")
    }

    @Test("the transport's key pinning (libcurl's sha256//base64 form) accepts the right key and refuses another")
    func pinnedKey() throws {
        let kds = try StubKDS()
        let server = try Certificate.parse(pemOrDER: Fixtures.readFile(kds.pki.serverCertificate))[0]
        let report = try SNPReport(parsing: Fixtures.bytes("snp/turin-v5-report.bin"))
        // SPKI digests whose base64 ends in "=" padding, one or two bytes short of a multiple of three, are
        // the cases a hand-written encoder gets wrong; SHA-256 (32 bytes) always has one "=".
        let pinned = try KDSClient(
            configuration: KDSConfiguration(baseURL: kds.url, trust: .pinnedSPKISHA256(server.spkiSHA256)))
        #expect(try pinned.vcek(for: report).subject.contains("SEV-VCEK"))
        var wrong = server.spkiSHA256
        wrong[0] ^= 1
        let refused = try KDSClient(configuration: KDSConfiguration(baseURL: kds.url, trust: .pinnedSPKISHA256(wrong)))
        #expect(throws: KDSError(.tls, "")) { try refused.vcek(for: report) }
    }

    @Test("--kds-crl: a CRL that AMD's ARK did not sign, or none at all, makes the report not trusted")
    func crlRequired() throws {
        let now = Timestamp.now
        let key = try PrivateKey.generateRSA(bits: 2048)
        let crl = try CertificateRevocationList.sign(
            issuer: [("CN", "ARK-Genoa")], revokedSerialNumbers: [], thisUpdate: now - 60, nextUpdate: now + 3600,
            key: key, alg: .sha384, rsaPSS: true)
        let directory = try Fixtures.temporaryDirectory("ccagent-kdscrl")
        defer { Fixtures.removeTree(directory) }
        try FileIO.writeAtomically(path: directory + "/genoa.crl", mode: 0o644, bytes: crl.der)
        let kds = try StubKDS(crls: ["Genoa": directory + "/genoa.crl"])
        let cache = kds.directory + "/cache"
        func run(_ report: String) throws -> Subprocess.Result {
            try verify([
                "--report", Fixtures.testVectors + "/" + report, "--kds-url", kds.url, "--kds-ca", kds.pki.caPEM,
                "--kds-cache", cache, "--kds-crl",
            ])
        }
        let forged = try run("snp/genoa-v3-report.bin")
        #expect(forged.exitCode == 2, "\(forged.output)")
        #expect(forged.output.contains("crl: AMD's CRL could not be had"), "\(forged.output)")
        #expect(forged.output.contains("not signed by AMD's ARK-Genoa"), "\(forged.output)")
        #expect(files(in: cache).count == 1, "only the VCEK is cached, not the refused CRL")
        let missing = try run("snp/turin-v5-report.bin")
        #expect(missing.exitCode == 2 && missing.output.contains("HTTP 404"), "\(missing.output)")
        #expect(
            kds.requests.contains("200 /vcek/v1/Genoa/crl")
                && kds.requests.contains { $0.hasPrefix("404 /vcek/v1/Turin/crl") })
    }

    @Test("a KDS whose TLS certificate is not trusted is refused (no --kds-ca)")
    func untrustedTLS() throws {
        let kds = try StubKDS()
        let result = try verify([
            "--report", Fixtures.testVectors + "/snp/genoa-v3-report.bin", "--kds-url", kds.url, "--kds-cache",
            kds.directory + "/cache",
        ])
        #expect(result.exitCode == 2, "\(result.output)")
        #expect(result.output.contains("--kds-ca"), "\(result.output)")
        #expect(kds.requests.isEmpty)
    }
}

@Suite("AMD KDS client: the product CRL (stand-in)", .serialized, .tags(.integration))
struct KDSRevocationListIntegrationTests {
    @Test("a CRL is accepted and cached only when an ARK signed it; another signer's CRL is refused, not cached")
    func crl() throws {
        let now = Timestamp.now
        let key = try PrivateKey.generateRSA(bits: 2048)
        let name = [("CN", "ARK-Genoa"), ("O", "ccagent tests")]
        var builder = CertificateBuilder(
            subject: name, serial: [1], notBefore: now - 3600, notAfter: now + 3600, publicKey: key.publicKey)
        builder.basicConstraints(ca: true)
        let testARK = try builder.sign(issuer: name, key: key, alg: .sha384, rsaPSS: true)
        let crl = try CertificateRevocationList.sign(
            issuer: name, revokedSerialNumbers: [], thisUpdate: now - 60, nextUpdate: now + 3600, key: key,
            alg: .sha384, rsaPSS: true)
        let directory = try Fixtures.temporaryDirectory("ccagent-kdscrl")
        defer { Fixtures.removeTree(directory) }
        try FileIO.writeAtomically(path: directory + "/genoa.crl", mode: 0o644, bytes: crl.der)
        let kds = try StubKDS(serving: [], crls: ["Genoa": directory + "/genoa.crl"])
        let cache = directory + "/cache"
        let client = try KDSClient(
            configuration: KDSConfiguration(baseURL: kds.url, trust: .caFile(kds.pki.caPEM), cacheDirectory: cache))
        // Signed by the test key, not by AMD's ARK-Genoa: refused, nothing cached.
        do {
            _ = try client.revocationList(product: "Genoa")
            Issue.record("a CRL not signed by AMD's ARK was accepted")
        } catch {
            #expect(error.code == .invalidResponse && error.message.contains("ARK-Genoa"), "\(error)")
        }
        #expect((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? [] == [])
        // With that key's certificate as an explicitly trusted root (as for the simulator): accepted, cached.
        #expect(try client.revocationList(product: "Genoa", extraRoots: [testARK]).der == crl.der)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []).count == 1)
        #expect(kds.requests == ["200 /vcek/v1/Genoa/crl", "200 /vcek/v1/Genoa/crl"])
        // Offline, the cached CRL is used.
        kds.stop()
        let offline = try KDSClient(
            configuration: KDSConfiguration(baseURL: kds.url, cacheDirectory: cache, offline: true))
        #expect(try offline.revocationList(product: "Genoa", extraRoots: [testARK]).der == crl.der)
    }
}
