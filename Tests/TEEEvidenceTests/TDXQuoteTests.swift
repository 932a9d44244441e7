// SPDX-License-Identifier: Apache-2.0
// TDX quotes, TDREPORT and CCEL over the real corpus.

import AgentBase
import TestSupport
import Testing

@testable import TEEEvidence

struct TDXVector: CustomTestStringConvertible, Sendable {
    var file: String
    var version: UInt16
    var mrTDPrefix: String
    var reportDataPrefix: String
    var teeTCBSVNPrefix: String
    var testDescription: String { file }

    static let all: [TDXVector] = [
        .init(
            file: "spr-e4-v4-quote.dat", version: 4, mrTDPrefix: "6363b804", reportDataPrefix: "6c62dec1",
            teeTCBSVNPrefix: "03000400"),
        .init(
            file: "tdx15-v5-quote.dat", version: 5, mrTDPrefix: "7348651a", reportDataPrefix: "945eaacf",
            teeTCBSVNPrefix: "0b010400"),
        .init(
            file: "azure-v4-quote.dat", version: 4, mrTDPrefix: "024a32b0", reportDataPrefix: "9734504f",
            teeTCBSVNPrefix: "02010600"),
        .init(
            file: "gcp-cos113-v4-quote.dat", version: 4, mrTDPrefix: "dae67181", reportDataPrefix: "0000000000",
            teeTCBSVNPrefix: "04010700"),
        .init(
            file: "fmspc00a06d080000-v4-quote.dat", version: 4, mrTDPrefix: "21e8dead", reportDataPrefix: "26cae1c7",
            teeTCBSVNPrefix: "05030200"),
    ]
}

@Suite("TDX quotes and reports")
struct TDXQuoteTests {
    @Test("decodes the fields PROVENANCE.md lists", arguments: TDXVector.all)
    func decodes(vector: TDXVector) throws {
        let quote = try TDXQuote(parsing: Fixtures.bytes("tdx/" + vector.file))
        #expect(quote.version == vector.version)
        #expect(Hex.encode(quote.body.mrTD).hasPrefix(vector.mrTDPrefix))
        #expect(Hex.encode(quote.body.reportData).hasPrefix(vector.reportDataPrefix))
        #expect(Hex.encode(quote.body.teeTCBSVN).hasPrefix(vector.teeTCBSVNPrefix))
        #expect(String(decoding: quote.pckChain.prefix(27), as: UTF8.self) == "-----BEGIN CERTIFICATE-----")
        #expect(quote.summary().rtmr.count == 4)
    }

    @Test("re-serializes to the identical bytes; trailing padding is ignored", arguments: TDXVector.all)
    func roundTrip(vector: TDXVector) throws {
        let bytes = try Fixtures.bytes("tdx/" + vector.file)
        let quote = try TDXQuote(parsing: bytes)
        #expect(quote.serialize() == quote.rawBytes)
        #expect(bytes.starts(with: quote.rawBytes))
        #expect(try TDXQuote(parsing: quote.rawBytes + [UInt8](repeating: 0, count: 100)) == quote)
    }

    @Test("truncated and random inputs are clear errors", arguments: TDXVector.all.prefix(2))
    func hostile(vector: TDXVector) throws {
        let bytes = try Fixtures.bytes("tdx/" + vector.file)
        let length = try TDXQuote(parsing: bytes).rawBytes.count
        for cut in stride(from: 0, to: length, by: 97) {
            #expect(throws: EvidenceError.self) { try TDXQuote(parsing: Array(bytes.prefix(cut))) }
        }
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<100 {
            var random = (0..<1200).map { _ in UInt8.random(in: 0...255, using: &generator) }
            random[0] = 4
            random[1] = 0
            #expect(throws: EvidenceError.self) { try TDXQuote(parsing: random) }
        }
    }

    @Test("the Azure TDREPORT matches its quote's body")
    func tdReport() throws {
        let report = try TDReport(parsing: Fixtures.bytes("tdx/azure-tdreport.bin"))
        let quote = try TDXQuote(parsing: Fixtures.bytes("tdx/azure-v4-quote.dat"))
        #expect(report.mrTD == quote.body.mrTD)
        #expect(report.rtmr == quote.body.rtmr)
        #expect(report.reportData == quote.body.reportData)
        #expect(report.mrSeam == quote.body.mrSeam)
        #expect(report.xfam == quote.body.xfam)
        #expect(report.serialize() == (try Fixtures.bytes("tdx/azure-tdreport.bin")))
    }

    @Test("auto-detection tells SNP reports, TDX quotes and TDREPORTs apart")
    func detection() throws {
        guard case .snpReport = try EvidenceKind.detect(Fixtures.bytes("snp/genoa-v3-report.bin")) else {
            throw FixtureError(message: "SNP not detected")
        }
        guard case .tdxQuote = try EvidenceKind.detect(Fixtures.bytes("tdx/tdx15-v5-quote.dat")) else {
            throw FixtureError(message: "quote not detected")
        }
        guard case .tdReport = try EvidenceKind.detect(Fixtures.bytes("tdx/azure-tdreport.bin")) else {
            throw FixtureError(message: "TDREPORT not detected")
        }
        #expect(throws: EvidenceError.self) { try EvidenceKind.detect(Array("hello".utf8)) }
    }

    @Test("the GCP CCEL log parses into 43 events")
    func ccel() throws {
        let log = try CCELEventLog(parsing: Fixtures.bytes("tdx/gcp-cos113-ccel-data.dat"))
        #expect(log.events.count == 43)
        #expect(log.events.allSatisfy { $0.sha384?.count == 48 })
    }
}
