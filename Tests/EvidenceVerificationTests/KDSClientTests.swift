// SPDX-License-Identifier: Apache-2.0
// The AMD KDS client without a network: URLs per product, what it accepts as a VCEK, the offline cache.

import AMDKDS
import AgentBase
import Cryptography
import EvidenceVerification
import FoundationEssentials
import TEEEvidence
import TestSupport
import Testing

@Suite("AMD KDS client")
struct KDSClientTests {
    func report(_ path: String) throws -> SNPReport { try SNPReport(parsing: Fixtures.bytes(path)) }

    func client(cache: String? = nil, offline: Bool = false) throws(KDSError) -> KDSClient {
        try KDSClient(
            configuration: KDSConfiguration(baseURL: "https://kds.invalid/", cacheDirectory: cache, offline: offline))
    }

    @Test("VCEK URLs: product from CPUID, 64-byte hwid (8 on Turin), two-digit SPLs, fmcSPL first on Turin")
    func urls() throws {
        let kds = try client()
        let milan = try report("snp/milan-v5-gcp-report.bin")
        #expect(KDSClient.products(for: milan) == ["Milan"])
        #expect(
            kds.vcekURL(for: milan, product: "Milan")
                == "https://kds.invalid/vcek/v1/Milan/\(Hex.encode(milan.chipID))?blSPL=04&teeSPL=00&snpSPL=27&ucodeSPL=222"
        )
        let turin = try report("snp/turin-v5-report.bin")
        #expect(KDSClient.products(for: turin) == ["Turin"])
        #expect(
            kds.vcekURL(for: turin, product: "Turin")
                == "https://kds.invalid/vcek/v1/Turin/59790fb1c39f35c1?fmcSPL=01&blSPL=01&teeSPL=01&snpSPL=04&ucodeSPL=81"
        )
        let modelA0 = try report("snp/genoa-fam19-modA0-v3-report.bin")
        #expect(KDSClient.products(for: modelA0) == ["Genoa"])
        #expect(kds.vcekURL(for: modelA0, product: "Genoa").contains("?blSPL=10&teeSPL=00&snpSPL=23&ucodeSPL=25"))
        // A v2 report names no product: Milan, then Genoa.
        #expect(KDSClient.products(for: try report("snp/milan-v2-gosevguest-report.bin")) == ["Milan", "Genoa"])
        #expect(kds.crlURL(product: "Genoa") == "https://kds.invalid/vcek/v1/Genoa/crl")
        #expect(kds.crlURL(product: "Turin", kind: .vlek) == "https://kds.invalid/vlek/v1/Turin/crl")
    }

    @Test("only AMD's VCEK for this report's chip and TCB is accepted", arguments: CorpusVCEK.all)
    func acceptsTheRightVCEK(entry: CorpusVCEK.Entry) throws {
        let report = try report(entry.report)
        let der = try Certificate.parse(pemOrDER: Fixtures.bytes(entry.vcek))[0].der
        #expect(try KDSClient.checkVCEK(der, for: report).der == der)
        // Truncated: not a certificate.
        #expect(throws: KDSError(.invalidResponse, "")) { try KDSClient.checkVCEK(Array(der.prefix(700)), for: report) }
    }

    @Test("another chip's VCEK, an ASK, or garbage is refused, naming why")
    func refusesOthers() throws {
        let turin = try report("snp/turin-v5-report.bin")
        let milanVCEK = try Fixtures.bytes("snp/milan-v2-gosevguest-vcek.der")
        do {
            _ = try KDSClient.checkVCEK(milanVCEK, for: turin)
            Issue.record("another chip's VCEK was accepted")
        } catch {
            #expect(error.code == .invalidResponse)
            #expect(error.message.contains("not AMD's VCEK for this report"), "\(error)")
        }
        let ask = try #require(AMDCertificates.chain(product: "Turin", kind: .vcek)).intermediate.der
        #expect(throws: KDSError(.invalidResponse, "")) { try KDSClient.checkVCEK(ask, for: turin) }
        #expect(throws: KDSError(.invalidResponse, "")) { try KDSClient.checkVCEK([0x30, 0x03, 1, 2, 3], for: turin) }
    }

    @Test("a VLEK-signed or chip-masked report cannot be looked up, and the error says where the VLEK comes from")
    func notFetchable() throws {
        let vlek = try report("snp/milan-v3-aws-vlek-vmpl1-report.bin")
        do {
            _ = try client().vcek(for: vlek)
            Issue.record("a VLEK report was looked up")
        } catch {
            #expect(error.code == .notFetchable)
            #expect(error.message.contains("VLEK") && error.message.contains("host"), "\(error)")
        }
        var masked = try report("snp/genoa-v3-report.bin")
        masked.chipID = [UInt8](repeating: 0, count: 64)
        #expect(throws: KDSError(.notFetchable, "")) { try client().vcek(for: masked) }
    }

    @Test("offline: a cache miss says so; a cached VCEK is used; a tampered cache file is refused")
    func offlineCache() throws {
        let directory = try Fixtures.temporaryDirectory("ccagent-kdscache")
        defer { Fixtures.removeTree(directory) }
        let report = try report("snp/genoa-v3-report.bin")
        let kds = try client(cache: directory, offline: true)
        do {
            _ = try kds.vcek(for: report)
            Issue.record("offline without a cache succeeded")
        } catch {
            #expect(error.code == .notCached)
            #expect(error.message.contains("--kds-offline"), "\(error)")
        }
        let path = try #require(kds.cachePath(for: kds.vcekURL(for: report, product: "Genoa")))
        let der = try Certificate.parse(pemOrDER: Fixtures.bytes("snp/genoa-v3-vcek.pem"))[0].der
        try FileIO.writeAtomically(path: path, mode: 0o644, bytes: der)
        #expect(try kds.vcek(for: report).der == der)
        // Someone replaced the cached file with another chip's VCEK: refused, not used.
        try FileIO.writeAtomically(path: path, mode: 0o644, bytes: Fixtures.bytes("snp/milan-v2-gosevguest-vcek.der"))
        do {
            _ = try kds.vcek(for: report)
            Issue.record("a tampered cache file was used")
        } catch {
            #expect(error.code == .notCached)
            #expect(error.message.contains("not usable"), "\(error)")
        }
    }

    @Test("a plain-http KDS URL is refused")
    func httpsOnly() throws {
        #expect(throws: KDSError(.insecureURL, "")) {
            try KDSClient(configuration: KDSConfiguration(baseURL: "http://kdsintf.amd.com"))
        }
    }
}
