// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: every evidence parser (SNP report, certificate table, TDX quote, TDREPORT, CCEL, Azure).

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
    // Azure: the HCL report, the TPM quote structures and the evidence JSON.
    if let report = try? HCLReport(parsing: bytes) {
        precondition(report.rawBytes == bytes, "an HCL report did not keep its bytes")
        _ = report.summary()
    }
    if let quote = try? TPMQuoteInfo(parsing: bytes) { _ = quote.pcrSelections.map(\.indices) }
    _ = try? TPMSignature(parsing: bytes)
    if let evidence = try? AzureEvidence(parsing: bytes) { _ = evidence.summary() }
    return 0
}
