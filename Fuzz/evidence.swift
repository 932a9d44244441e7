// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: every evidence parser (SNP report, certificate table, TDX quote, TDREPORT, CCEL).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEvidence(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if case .snpReport(let report)? = try? EvidenceKind.detect(bytes) {
        precondition(report.serialize() == bytes, "an SNP report did not round-trip")
    }
    if let quote = try? TDXQuote(parsing: bytes) {
        precondition(quote.serialize() == quote.rawBytes, "a TDX quote did not round-trip")
    }
    _ = try? SNPCertificateTable(parsing: bytes)
    _ = try? CCELEventLog(parsing: bytes)
    return 0
}
