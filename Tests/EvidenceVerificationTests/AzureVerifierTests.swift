// SPDX-License-Identifier: Apache-2.0
// Azure vTPM verification over the real corpus, and each attack refused by the check that names it.

import AgentBase
import CanonicalJSON
import Cryptography
import EvidenceVerification
import FoundationEssentials
import TEEEvidence
import TestSupport
import Testing

/// One Azure evidence fixture with the report data and PCR 0 its PROVENANCE.md gives.
struct AzureVector: CustomTestStringConvertible, Sendable {
    var file: String
    var reportData: String
    var pcr0: String
    /// AMD's ASK/ARK for the SNP chain (until they are compiled in), or nil for TDX.
    var amdChain: String?
    var at: String
    var testDescription: String { file }

    static let challenge = "6368616c6c656e6765"
    static let snpV0 = AzureVector(
        file: "azure/snp-vtpm/evidence-v0.json", reportData: challenge,
        pcr0: "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced",
        amdChain: "certs/amd-milan-vcek-ask-ark.pem", at: "2026-06-01T00:00:00Z")
    static let snpV2 = AzureVector(
        file: "azure/snp-vtpm/evidence-v2.json",
        reportData: "982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef",
        pcr0: "84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7",
        amdChain: "certs/amd-milan-vcek-ask-ark.pem", at: "2026-06-01T00:00:00Z")
    static let tdxV1 = AzureVector(
        file: "azure/tdx-vtpm/evidence-v1.json", reportData: challenge,
        pcr0: "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273", amdChain: nil,
        at: "2024-06-01T00:00:00Z")

    static let all: [AzureVector] = [
        snpV0,
        .init(
            file: "azure/snp-vtpm/evidence-v1.json", reportData: challenge, pcr0: snpV0.pcr0,
            amdChain: "certs/amd-milan-vcek-ask-ark.pem", at: "2026-06-01T00:00:00Z"),
        snpV2,
        .init(
            file: "azure/snp-vtpm/evidence-genoa.json",
            reportData:
                "0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938ca05475f8b46094de6b64270ea35d950f",
            pcr0: "afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338",
            amdChain: "certs/amd-genoa-vcek-ask-ark.pem", at: "2026-06-01T00:00:00Z"),
        .init(
            file: "azure/tdx-vtpm/evidence-v0.json", reportData: challenge, pcr0: tdxV1.pcr0, amdChain: nil,
            at: "2024-06-01T00:00:00Z"),
        tdxV1,
    ]

    func load() throws -> (AzureEvidence, [Certificate], Timestamp) {
        let evidence = try AzureEvidence(parsing: Fixtures.bytes(file))
        let certificates = try amdChain.map { try Certificate.parse(pemOrDER: Fixtures.bytes($0)) } ?? []
        return (evidence, certificates, try #require(Timestamp(iso8601: at)))
    }

    func verify(_ evidence: AzureEvidence, reportData: String? = nil) throws -> VerificationResult {
        let (_, certificates, date) = try load()
        return AzureVerifier.verify(
            evidence: evidence, expectedReportData: Hex.decode(reportData ?? self.reportData) ?? [],
            certificates: certificates, at: date)
    }
}

@Suite("Azure vTPM verification")
struct AzureVerifierTests {
    @Test(
        "every fixture verifies with its report data; the summary gives that report data and PCR 0",
        arguments: AzureVector.all)
    func verifies(vector: AzureVector) throws {
        let (evidence, _, _) = try vector.load()
        let result = try vector.verify(evidence)
        #expect(result.failures == [])
        #expect(result.trusted)
        for check in [
            "tpm quote signature by HCLAkPub", "tpm quote nonce", "tpm pcr digest over PCRs 0-23",
            "hcl variable data bound to the hardware report",
        ] {
            #expect(result.passed.contains(check), "\(check) did not run")
        }
        guard case .azure(let summary) = result.summary else {
            Issue.record("not an Azure summary")
            return
        }
        #expect(summary.reportData == vector.reportData)
        #expect(summary.pcrs.count == 24 && summary.pcrs.first == vector.pcr0)
        #expect(summary.tee == (vector.amdChain == nil ? "az-tdx-vtpm" : "az-snp-vtpm"))
        if vector.amdChain != nil {
            #expect(result.passed.contains("report signature") && result.passed.contains("snp report at VMPL 0"))
        } else {
            #expect(result.passed.contains("hcl tdreport matches the td quote"))
        }
    }

    @Test(
        "a wrong report data is refused by the nonce check (and the user-data check in v2)", arguments: AzureVector.all)
    func wrongReportData(vector: AzureVector) throws {
        let (evidence, _, _) = try vector.load()
        let result = try vector.verify(evidence, reportData: "123abc")
        #expect(!result.trusted)
        #expect(result.codes.contains(.tpmNonceMismatch))
        #expect(result.codes.contains(.hclUserDataMismatch) == (evidence.version >= 2))
        // The expected report data zero-padded to 64 bytes (the SNP/TDX rule) is not what the nonce holds either.
        let padded = Hex.encode((Hex.decode(vector.reportData) ?? []) + [UInt8](repeating: 0, count: 4))
        #expect(try vector.verify(evidence, reportData: padded).codes.contains(.tpmNonceMismatch))
    }

    @Test("a flipped byte in the quote message is refused by the signature check", arguments: AzureVector.all)
    func tamperedMessage(vector: AzureVector) throws {
        var (evidence, _, _) = try vector.load()
        var bytes = evidence.tpmQuote.message.rawBytes
        // clockInfo.clock: any value parses, so only the signature can catch it.
        let clock =
            6 + 2 + evidence.tpmQuote.message.qualifiedSigner.count + 2
            + evidence.tpmQuote.message.extraData.count
        bytes[clock + 7] ^= 0x01
        evidence.tpmQuote.message = try TPMQuoteInfo(parsing: bytes)
        #expect(evidence.tpmQuote.message.clock != (try vector.load()).0.tpmQuote.message.clock)
        let result = try vector.verify(evidence)
        #expect(result.codes == [.tpmQuoteSignatureMismatch])
    }

    @Test("a flipped byte in the signature is refused by the signature check", arguments: AzureVector.all)
    func tamperedSignature(vector: AzureVector) throws {
        var (evidence, _, _) = try vector.load()
        evidence.tpmQuote.signature[17] ^= 0x01
        #expect(try vector.verify(evidence).codes == [.tpmQuoteSignatureMismatch])
        // A signature of another size is neither a raw signature nor a TPMT_SIGNATURE.
        evidence.tpmQuote.signature.removeLast()
        #expect(try vector.verify(evidence).codes == [.tpmQuoteSignatureMismatch])
    }

    @Test("a flipped byte in any PCR is refused by the PCR digest check", arguments: AzureVector.all)
    func tamperedPCR(vector: AzureVector) throws {
        let (original, _, _) = try vector.load()
        for index in [0, 4, 9, 11, 23] {
            var evidence = original
            evidence.tpmQuote.pcrs[index][31] ^= 0x80
            #expect(try vector.verify(evidence).codes == [.tpmPCRDigestMismatch], "PCR \(index)")
        }
        var fewer = original
        fewer.tpmQuote.pcrs.removeLast()
        #expect(try vector.verify(fewer).codes == [.tpmPCRSelectionUnsupported])
    }

    @Test("a flipped byte in the variable data is refused by the binding check", arguments: AzureVector.all)
    func tamperedVariableData(vector: AzureVector) throws {
        var (evidence, _, _) = try vector.load()
        var bytes = evidence.hclReport.rawBytes
        // A character of vmUniqueId: still valid JSON with the same key, so only the binding catches it.
        let text = Array("vmUniqueId\":\"".utf8)
        guard
            let start = (HCLReport.fixedSize..<bytes.count - text.count).first(where: {
                Array(bytes[$0..<$0 + text.count]) == text
            })
        else { throw FixtureError(message: "no vmUniqueId") }
        bytes[start + text.count] =
            bytes[start + text.count] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        evidence.hclReport = try HCLReport(parsing: bytes)
        #expect(try vector.verify(evidence).codes == [.hclVariableDataMismatch])
    }

    @Test("a substituted attestation key (in the variable data) fails the signature and the binding")
    func substitutedKey() throws {
        let vector = AzureVector.snpV0
        var (evidence, _, _) = try vector.load()
        var runtime = evidence.hclReport.runtimeData
        let key = try PrivateKey.generateRSA(bits: 2048)
        guard let components = key.publicKey.rsaComponents else { throw FixtureError(message: "no RSA key") }
        runtime.attestationKey = HCLRuntimeData.RSAKey(modulus: components.modulus, exponent: components.exponent)
        evidence.hclReport.runtimeData = runtime
        #expect(try vector.verify(evidence).codes == [.tpmQuoteSignatureMismatch])
        runtime.attestationKey = nil
        runtime.attestationKeyProblem = "HCLAkPub: no key with kid 'HCLAkPub' in 'keys'"
        evidence.hclReport.runtimeData = runtime
        #expect(try vector.verify(evidence).codes == [.attestationKeyUnreadable])
    }

    @Test("a marshalled TPMT_SIGNATURE (RSAPSS, SHA-256, salt 32) verifies; with another hash or scheme it does not")
    func tpmtSignature() throws {
        let vector = AzureVector.snpV0
        var (evidence, _, _) = try vector.load()
        let key = try PrivateKey.generateRSA(bits: 2048)
        guard let components = key.publicKey.rsaComponents else { throw FixtureError(message: "no RSA key") }
        // Only the parsed key is replaced (the variable data bytes, and so the binding, stay intact).
        evidence.hclReport.runtimeData.attestationKey = HCLRuntimeData.RSAKey(
            modulus: components.modulus, exponent: components.exponent)
        let signature = try key.signRSAPSS(.sha256, data: evidence.tpmQuote.message.rawBytes, saltLength: 32)
        let size = [UInt8(signature.count >> 8), UInt8(signature.count & 0xFF)]
        evidence.tpmQuote.signature = [0x00, 0x16, 0x00, 0x0B] + size + signature
        #expect(try vector.verify(evidence).trusted)
        evidence.tpmQuote.signature = [0x00, 0x16, 0x00, 0x0C] + size + signature  // SHA-384
        #expect(try vector.verify(evidence).codes == [.tpmQuoteSignatureMismatch])
        evidence.tpmQuote.signature = [0x00, 0x14, 0x00, 0x0B] + size + signature  // RSASSA
        #expect(try vector.verify(evidence).codes == [.tpmQuoteSignatureMismatch])
    }

    @Test("a flipped byte in the SNP report is refused by its signature; a VMPL other than 0 by the VMPL check")
    func tamperedSNPReport() throws {
        for vector in [AzureVector.snpV0, AzureVector.snpV2] {
            var (evidence, _, _) = try vector.load()
            let original = evidence.hclReport.rawBytes
            var bytes = original
            bytes[0x20 + 0x90] ^= 0x01  // MEASUREMENT[0]
            evidence.hclReport = try HCLReport(parsing: bytes)
            #expect(try vector.verify(evidence).codes == [.reportSignatureMismatch])
            bytes = original
            bytes[0x20 + 0x30] = 1  // VMPL
            evidence.hclReport = try HCLReport(parsing: bytes)
            #expect(try vector.verify(evidence).codes == [.hclVMPLNotZero, .reportSignatureMismatch])
            bytes = original
            bytes[0x20 + 0x50] ^= 0x01  // REPORT_DATA[0]: the binding and the signature both fail
            evidence.hclReport = try HCLReport(parsing: bytes)
            #expect(try vector.verify(evidence).codes == [.hclVariableDataMismatch, .reportSignatureMismatch])
        }
    }

    @Test("SNP: the evidence's VCEK chains through AMD's shipped ASK/ARK; without a VCEK nothing chains")
    func snpChainUsesShippedASK() throws {
        let vector = AzureVector.snpV0
        var (evidence, _, date) = try vector.load()
        let alone = AzureVerifier.verify(
            evidence: evidence, expectedReportData: Hex.decode(vector.reportData) ?? [], at: date)
        #expect(alone.trusted, "\(alone.failures)")
        #expect(alone.passed.contains("vcek chain to AMD ARK-Milan"))
        evidence.vcek = nil
        let noVCEK = AzureVerifier.verify(
            evidence: evidence, expectedReportData: Hex.decode(vector.reportData) ?? [], at: date)
        #expect(!noVCEK.trusted && noVCEK.codes.contains(.missingSigningCertificate), "\(noVCEK.failures)")
    }

    @Test("TDX: a flipped TDREPORT byte is refused by the TDREPORT match; a flipped TD quote byte by its signature")
    func tamperedTDX() throws {
        let vector = AzureVector.tdxV1
        var (evidence, _, _) = try vector.load()
        let original = evidence.hclReport.rawBytes
        var bytes = original
        bytes[0x20 + 528] ^= 0x01  // TDREPORT MRTD[0]
        evidence.hclReport = try HCLReport(parsing: bytes)
        #expect(try vector.verify(evidence).codes == [.hclTDReportMismatch])
        evidence.hclReport = try HCLReport(parsing: original)
        guard let quote = evidence.tdQuote else { throw FixtureError(message: "no TD quote") }
        var quoteBytes = quote.rawBytes
        quoteBytes[48 + 136] ^= 0x01  // body MRTD[0]
        evidence.tdQuote = try TDXQuote(parsing: quoteBytes)
        #expect(try vector.verify(evidence).codes == [.hclTDReportMismatch, .quoteSignatureMismatch])
        quoteBytes = quote.rawBytes
        quoteBytes[48 + 520] ^= 0x01  // body REPORTDATA[0]
        evidence.tdQuote = try TDXQuote(parsing: quoteBytes)
        #expect(
            try vector.verify(evidence).codes == [
                .hclVariableDataMismatch, .hclTDReportMismatch, .quoteSignatureMismatch,
            ])
    }

    @Test("v2 with report data 123abc fails the user-data check, as Trustee's test says")
    func userData() throws {
        let vector = AzureVector.snpV2
        var (evidence, _, _) = try vector.load()
        #expect(try vector.verify(evidence, reportData: "123abc").codes.contains(.hclUserDataMismatch))
        // Downgraded to v1, the same evidence skips the user-data check (as upstream); the nonce still binds.
        evidence.version = 1
        #expect(try vector.verify(evidence).trusted)
        #expect(try vector.verify(evidence, reportData: "123abc").codes == [.tpmNonceMismatch])
    }

    @Test("Trustee's split fixtures (tpm-quote-v1.json, hcl-report.bin, vcek.pem) assembled as v0 evidence verify")
    func splitFixtures() throws {
        let quote = try JSONValue.parse(Fixtures.bytes("azure/snp-vtpm/tpm-quote-v1.json"))
        func byteList(_ hex: String?) -> JSONValue { .array((hex.flatMap(Hex.decode) ?? []).map { .integer($0) }) }
        let pcrs = (quote["pcrs"]?.arrayValue ?? []).map { byteList($0.stringValue) }
        let evidence: JSONValue = .object([
            (
                "quote",
                .object([
                    ("signature", byteList(quote["signature"]?.stringValue)),
                    ("message", byteList(quote["message"]?.stringValue)), ("pcrs", .array(pcrs)),
                ])
            ),
            ("report", .array(try Fixtures.bytes("azure/snp-vtpm/hcl-report.bin").map { .integer($0) })),
            ("vcek", .string(String(decoding: try Fixtures.bytes("azure/snp-vtpm/vcek.pem"), as: UTF8.self))),
        ])
        let parsed = try AzureEvidence(json: evidence)
        let result = AzureVerifier.verify(
            evidence: parsed, expectedReportData: Array("challenge".utf8),
            at: try #require(Timestamp(iso8601: "2026-06-01T00:00:00Z")))
        #expect(result.failures == [])
        #expect(result.passed.contains("tpm quote signature by HCLAkPub") && result.passed.contains("report signature"))
        // The standalone tpm-quote.msg/.sig pair is another capture (PCRs 0-7 and 14): not signed by this AK.
        var other = parsed
        other.tpmQuote.message = try TPMQuoteInfo(parsing: Fixtures.bytes("azure/snp-vtpm/tpm-quote.msg"))
        other.tpmQuote.signature = try Fixtures.bytes("azure/snp-vtpm/tpm-quote.sig")
        let refused = AzureVerifier.verify(
            evidence: other, expectedReportData: Array("challenge".utf8),
            at: try #require(Timestamp(iso8601: "2026-06-01T00:00:00Z")))
        #expect(refused.codes == [.tpmQuoteSignatureMismatch, .tpmPCRSelectionUnsupported])
    }

    @Test("raw entry point: the evidence file, certificates as named files, unreadable inputs are errors")
    func rawEntryPoint() throws {
        let vector = AzureVector.snpV2
        let result = try EvidenceVerifier.verifyAzure(
            evidence: Fixtures.bytes(vector.file), reportData: Hex.decode(vector.reportData) ?? [],
            certificates: [(name: "chain", bytes: try Fixtures.bytes("certs/amd-milan-vcek-ask-ark.pem"))],
            at: try #require(Timestamp(iso8601: vector.at)))
        #expect(result.trusted, "\(result.failures)")
        let error = #expect(throws: VerificationError.self) {
            try EvidenceVerifier.verifyAzure(evidence: Array("{}".utf8), reportData: [], at: .now)
        }
        #expect(error?.code == .unreadableEvidence)
    }
}

/// The independent check (scripts/testing/verify_azure_evidence.py, python cryptography, written from
/// Trustee's rules) agrees with the Swift checks on every fixture and on tampered copies.
@Suite("Azure vTPM independent check", .tags(.integration))
struct AzureIndependentCheckIntegrationTests {
    @Test("python and Swift agree on every fixture: trusted, and PCR 0", arguments: AzureVector.all)
    func agrees(vector: AzureVector) throws {
        let script = Fixtures.repositoryRoot + "/scripts/testing/verify_azure_evidence.py"
        let path = Fixtures.testVectors + "/" + vector.file
        let good = try Subprocess.run(["/usr/bin/env", "python3", script, path, vector.reportData])
        #expect(good.exitCode == 0, "\(good.output)")
        #expect(good.output.contains("\"pcr00\": \"\(vector.pcr0)\""))
        let (evidence, _, _) = try vector.load()
        #expect(try vector.verify(evidence).trusted)
        let bad = try Subprocess.run(["/usr/bin/env", "python3", script, path, "123abc"])
        #expect(bad.exitCode == 1 && bad.output.contains("nonce"), "\(bad.output)")
        #expect(try vector.verify(evidence, reportData: "123abc").codes.contains(.tpmNonceMismatch))
    }
}
