// SPDX-License-Identifier: Apache-2.0
// Azure vTPM evidence over the real corpus: HCL reports, TPMS_ATTEST, the evidence JSON v0/v1/v2, hostile input.

import AgentBase
import CanonicalJSON
import FoundationEssentials
import TestSupport
import Testing

@testable import TEEEvidence

/// One Azure evidence fixture and what its PROVENANCE.md says it holds.
struct AzureEvidenceVector: CustomTestStringConvertible, Sendable {
    var file: String
    var tee: AzureEvidence.TEE
    var version: Int
    /// The TPM quote's nonce (the report data the fixture verifies with).
    var reportData: String
    var pcr0: String
    var testDescription: String { file }

    static let challenge = "6368616c6c656e6765"  // UTF-8 "challenge"
    static let v2ReportData =
        "982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef"
    static let genoaReportData =
        "0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938ca05475f8b46094de6b64270ea35d950f"

    static let all: [AzureEvidenceVector] = [
        .init(
            file: "azure/snp-vtpm/evidence-v0.json", tee: .snp, version: 0, reportData: challenge,
            pcr0: "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced"),
        .init(
            file: "azure/snp-vtpm/evidence-v1.json", tee: .snp, version: 1, reportData: challenge,
            pcr0: "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced"),
        .init(
            file: "azure/snp-vtpm/evidence-v2.json", tee: .snp, version: 2, reportData: v2ReportData,
            pcr0: "84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7"),
        .init(
            file: "azure/snp-vtpm/evidence-genoa.json", tee: .snp, version: 0, reportData: genoaReportData,
            pcr0: "afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338"),
        .init(
            file: "azure/tdx-vtpm/evidence-v0.json", tee: .tdx, version: 0, reportData: challenge,
            pcr0: "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273"),
        .init(
            file: "azure/tdx-vtpm/evidence-v1.json", tee: .tdx, version: 1, reportData: challenge,
            pcr0: "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273"),
    ]
}

@Suite("Azure vTPM evidence parsing")
struct AzureParsingTests {
    @Test(
        "every evidence fixture parses: TEE, version, nonce, 24 PCRs, hardware report",
        arguments: AzureEvidenceVector.all)
    func parses(vector: AzureEvidenceVector) throws {
        let evidence = try AzureEvidence(parsing: Fixtures.bytes(vector.file))
        #expect(evidence.tee == vector.tee)
        #expect(evidence.version == vector.version)
        #expect(Hex.encode(evidence.tpmQuote.message.extraData) == vector.reportData)
        #expect(evidence.tpmQuote.pcrs.count == 24)
        #expect(evidence.tpmQuote.pcrs.first.map { Hex.encode($0) } == vector.pcr0)
        #expect(evidence.tpmQuote.signature.count == 256)
        #expect(evidence.hclReport.runtimeData.attestationKey?.modulusBits == 2048)
        switch vector.tee {
        case .snp:
            #expect(evidence.vcek != nil && evidence.tdQuote == nil)
            guard case .snp(let report) = evidence.hclReport.hardwareReport else {
                Issue.record("not an SNP hardware report")
                return
            }
            #expect(report.vmpl == 0)
        case .tdx:
            #expect(evidence.vcek == nil && evidence.tdQuote?.version == 4)
        }
        // The TEE the broker's session names must agree with the HCL report.
        let other: AzureEvidence.TEE = vector.tee == .snp ? .tdx : .snp
        let error = #expect(throws: EvidenceError.self) {
            try AzureEvidence(parsing: Fixtures.bytes(vector.file), tee: other)
        }
        #expect(error?.code == .unknownFormat)
    }

    @Test("SNP v0 and v1 are two captures with the same nonce and PCR 0; TDX v0 and v1 are one capture in two shapes")
    func versionsAgree() throws {
        let v0 = try AzureEvidence(parsing: Fixtures.bytes("azure/snp-vtpm/evidence-v0.json"))
        let v1 = try AzureEvidence(parsing: Fixtures.bytes("azure/snp-vtpm/evidence-v1.json"))
        #expect(v0.tpmQuote.message.extraData == v1.tpmQuote.message.extraData)
        #expect(v0.tpmQuote.pcrs.first == v1.tpmQuote.pcrs.first)
        #expect(v0.tpmQuote.message.clock != v1.tpmQuote.message.clock)
        let tdx0 = try AzureEvidence(parsing: Fixtures.bytes("azure/tdx-vtpm/evidence-v0.json"))
        let tdx1 = try AzureEvidence(parsing: Fixtures.bytes("azure/tdx-vtpm/evidence-v1.json"))
        #expect(tdx0.tpmQuote == tdx1.tpmQuote && tdx0.tdQuote == tdx1.tdQuote)
        #expect(tdx0.hclReport.rawBytes == tdx1.hclReport.rawBytes)
    }

    @Test("the HCL reports: header, report type, SHA-256 of the variable data is REPORT_DATA[0:32]")
    func hclReports() throws {
        let snp = try HCLReport(parsing: Fixtures.bytes("azure/snp-vtpm/hcl-report.bin"))
        #expect(snp.reportType == .snp && snp.version == 1 && snp.hashType == 1)
        #expect(snp.variableData.count == 1110 && snp.dataSize == 1130)
        #expect(Hex.encode(snp.hardwareReportData.prefix(32)).hasPrefix("b3fbad65"))
        #expect(snp.runtimeData.userData == [UInt8](repeating: 0, count: 64))
        #expect(snp.runtimeData.vmConfiguration?.contains("\"secure-boot\":true") == true)
        let extracted = try Fixtures.bytes("snp/milan-v2-azure-snp-report.bin")
        guard case .snp(let report) = snp.hardwareReport else { throw FixtureError(message: "not SNP") }
        #expect(report.rawBytes == extracted)

        let tdx = try HCLReport(parsing: Fixtures.bytes("azure/tdx-vtpm/hcl-report.bin"))
        #expect(tdx.reportType == .tdx && tdx.version == 2)
        guard case .tdx(let tdReport) = tdx.hardwareReport else { throw FixtureError(message: "not TDX") }
        #expect(tdReport.rawBytes == (try Fixtures.bytes("tdx/azure-tdreport.bin")))
        #expect(Hex.encode(tdx.hardwareReportData.prefix(4)) == "9734504f")
        #expect(tdx.summary().reportType == "tdx")
        #expect(snp.describe().contains("HCLAkPub         : RSA 2048 bits"))
    }

    @Test("the TDREPORT's quoted fields equal the TD quote's, by name")
    func tdReportFields() throws {
        let report = try TDReport(parsing: Fixtures.bytes("tdx/azure-tdreport.bin"))
        let quote = try TDXQuote(parsing: Fixtures.bytes("tdx/azure-v4-quote.dat"))
        let fromReport = report.quotedFields
        let fromQuote = quote.body.quotedFields
        #expect(fromReport.count == 15)
        #expect(fromReport.map(\.name) == fromQuote.map(\.name))
        #expect(fromReport.map(\.value) == fromQuote.map(\.value))
    }

    @Test("TPMS_ATTEST: magic, type, nonce 'challenge', the PCR selection and digest of two real quotes")
    func tpmAttest() throws {
        // The standalone quote (az-cvm-vtpm's capture) selects PCRs 0-7 and 14 only.
        let message = try Fixtures.bytes("azure/snp-vtpm/tpm-quote.msg")
        let quote = try TPMQuoteInfo(parsing: message)
        #expect(quote.extraData == Array("challenge".utf8))
        #expect(quote.qualifiedSigner.count == 34 && quote.qualifiedSigner.prefix(2) == [0x00, 0x0B])
        #expect(quote.pcrSelections.count == 1)
        #expect(quote.pcrSelections.first?.hashAlgorithm == TPMQuoteInfo.sha256Algorithm)
        #expect(quote.pcrSelections.first?.indices == [0, 1, 2, 3, 4, 5, 6, 7, 14])
        #expect(quote.pcrDigest.count == 32)
        #expect(quote.rawBytes == message)
        // The evidence's quote selects all 24 PCRs of the SHA-256 bank (bitmap ff ff ff).
        let evidence = try AzureEvidence(parsing: Fixtures.bytes("azure/snp-vtpm/evidence-v1.json"))
        #expect(evidence.tpmQuote.message.pcrSelections.first?.indices == Array(0..<24))
        #expect(evidence.tpmQuote.message.pcrSelections.first?.bitmap == [0xFF, 0xFF, 0xFF])
        #expect(evidence.tpmQuote.message.safe == 1 && evidence.tpmQuote.message.resetCount == 2)
    }

    @Test("TPMT_SIGNATURE: RSASSA and RSAPSS with their hash; other algorithms and slack are refused")
    func tpmSignature() throws {
        let body = [UInt8](repeating: 0xAB, count: 256)
        let rsassa = try TPMSignature(parsing: [0x00, 0x14, 0x00, 0x0B, 0x01, 0x00] + body)
        #expect(rsassa.scheme == .rsassa && rsassa.hashAlgorithm == 0x000B && rsassa.signature == body)
        let rsapss = try TPMSignature(parsing: [0x00, 0x16, 0x00, 0x0B, 0x01, 0x00] + body)
        #expect(rsapss.scheme == .rsapss)
        #expect(throws: EvidenceError.self) { try TPMSignature(parsing: [0x00, 0x18, 0x00, 0x0B, 0x01, 0x00] + body) }
        #expect(throws: EvidenceError.self) {
            try TPMSignature(parsing: [0x00, 0x14, 0x00, 0x0B, 0x01, 0x00] + body + [0])
        }
        #expect(throws: EvidenceError.self) { try TPMSignature(parsing: [0x00, 0x14, 0x00, 0x0B, 0x01, 0x01] + body) }
    }

    @Test("every truncation of an HCL report and a quote message is a clear error, never a crash")
    func truncations() throws {
        for file in ["azure/snp-vtpm/hcl-report.bin", "azure/tdx-vtpm/hcl-report.bin"] {
            let bytes = try Fixtures.bytes(file)
            let fixedAndData = HCLReport.fixedSize + (try HCLReport(parsing: bytes)).variableData.count
            for length in stride(from: 0, to: fixedAndData, by: 7) {
                #expect(throws: EvidenceError.self) { try HCLReport(parsing: Array(bytes.prefix(length))) }
            }
        }
        let message = try Fixtures.bytes("azure/snp-vtpm/tpm-quote.msg")
        for length in 0..<message.count {
            #expect(throws: EvidenceError.self) { try TPMQuoteInfo(parsing: Array(message.prefix(length))) }
        }
        let trailing = #expect(throws: EvidenceError.self) { try TPMQuoteInfo(parsing: message + [0]) }
        #expect(trailing?.code == .malformed)
    }

    @Test("hostile HCL headers: magic, report type, hash type, oversized variable data")
    func hostileHCL() throws {
        let bytes = try Fixtures.bytes("azure/snp-vtpm/hcl-report.bin")
        func patched(_ offset: Int, _ value: [UInt8]) -> [UInt8] {
            var copy = bytes
            copy.replaceSubrange(offset..<offset + value.count, with: value)
            return copy
        }
        let cases: [([UInt8], EvidenceError.Code)] = [
            (patched(0, Array("HCLB".utf8)), .unknownFormat),
            (patched(0x4C8, [3, 0, 0, 0]), .unknownFormat),
            (patched(0x4CC, [2, 0, 0, 0]), .unsupportedVersion),
            (patched(0x4D0, [0xFF, 0xFF, 0xFF, 0x7F]), .malformed),
            (patched(0x4D0, [0x00, 0x10, 0, 0]), .truncated),
            (patched(0x4D4, Array("[".utf8)), .malformed),
            // An SNP report type over TDREPORT bytes, and the reverse: the hardware report does not parse.
            (patched(0x4C8, [4, 0, 0, 0]), .malformed),
        ]
        for (input, code) in cases {
            let error = #expect(throws: EvidenceError.self) { try HCLReport(parsing: input) }
            #expect(error?.code == code, "\(String(describing: error))")
        }
        // A variable data without HCLAkPub parses, and says why the key is missing.
        let noKey = try HCLRuntimeData(parsing: Array(#"{"keys":[],"user-data":"00"}"#.utf8))
        #expect(noKey.attestationKey == nil && noKey.attestationKeyProblem?.contains("HCLAkPub") == true)
        let twoKeys = try HCLRuntimeData(
            parsing: Array(#"{"keys":[{"kid":"HCLAkPub","kty":"RSA","n":"AQAB","e":"AQAB"},{"kid":"HCLAkPub"}]}"#.utf8))
        #expect(twoKeys.attestationKey == nil && twoKeys.attestationKeyProblem?.contains("2 keys") == true)
    }

    @Test("hostile evidence JSON: version, encodings, sizes, missing members, wrong shapes")
    func hostileJSON() throws {
        let v1 = try JSONValue.parse(Fixtures.bytes("azure/snp-vtpm/evidence-v1.json"))
        func with(_ key: String, _ value: JSONValue?) -> JSONValue {
            guard case .object(var members) = v1 else { return v1 }
            members.removeAll { $0.0 == key }
            if let value { members.append((key, value)) }
            return .object(members)
        }
        let cases: [(JSONValue, EvidenceError.Code)] = [
            (with("version", .integer(3)), .unsupportedVersion),
            (with("version", .string("1")), .unsupportedVersion),
            (with("hcl_report", .string("not base64!")), .malformed),
            (with("hcl_report", nil), .malformed),
            (with("vcek", nil), .malformed),
            (
                with(
                    "tpm_quote",
                    .object([("signature", .string("00")), ("message", .string("zz")), ("pcrs", .array([]))])),
                .malformed
            ),
            (with("tpm_quote", .array([])), .malformed),
            (with("hcl_report", .array([.integer(1)])), .malformed),
            (.array([]), .malformed),
        ]
        for (json, code) in cases {
            let error = #expect(throws: EvidenceError.self) { try AzureEvidence(json: json) }
            #expect(error?.code == code, "\(String(describing: error))")
        }
        #expect(throws: EvidenceError.self) {
            try AzureEvidence(parsing: [UInt8](repeating: 0x20, count: AzureEvidence.maxSize + 1))
        }
        // v0 shapes hold byte lists: a value above 255 or a string is refused.
        let v0 = try JSONValue.parse(Fixtures.bytes("azure/tdx-vtpm/evidence-v0.json"))
        guard case .object(var members) = v0 else { throw FixtureError(message: "not an object") }
        members.removeAll { $0.0 == "td_quote" }
        #expect(throws: EvidenceError.self) { try AzureEvidence(json: .object(members + [("td_quote", .integer(1))])) }
        #expect(throws: EvidenceError.self) {
            try AzureEvidence(json: .object(members + [("td_quote", .array([.integer(256)]))]))
        }
    }

    @Test("base64url: padded or not, both alphabets' URL half only, canonical trailing bits")
    func base64() {
        #expect(AzureBase64.decode("AQAB") == [1, 0, 1])
        #expect(AzureBase64.decode("_-8") == [0xFF, 0xEF])
        #expect(AzureBase64.decode("_-8=") == [0xFF, 0xEF])
        #expect(AzureBase64.decode("+/8=") == nil)
        #expect(AzureBase64.decode("_-9") == nil)
        #expect(AzureBase64.decode("A") == nil)
        #expect(AzureBase64.decode("") == [])
    }

    @Test("the summary: tee, version, report data, 24 PCRs and the hardware report's fields")
    func summary() throws {
        let evidence = try AzureEvidence(parsing: Fixtures.bytes("azure/snp-vtpm/evidence-v2.json"))
        let summary = evidence.summary()
        #expect(summary.tee == "az-snp-vtpm" && summary.evidenceVersion == 2)
        #expect(summary.reportData == AzureEvidenceVector.v2ReportData)
        #expect(summary.pcrs.count == 24)
        guard case .snp(let snp) = summary.hardware else { throw FixtureError(message: "not SNP") }
        #expect(snp.vmpl == 0 && snp.reportData.count == 128)
    }
}
