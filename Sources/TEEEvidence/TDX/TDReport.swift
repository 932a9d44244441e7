// SPDX-License-Identifier: Apache-2.0
// TDREPORT_STRUCT (1024 bytes) as TDX_CMD_GET_REPORT0 returns it.

import AgentBase

/// A TDREPORT.
///
/// | off | size | field |
/// |-----|------|-------|
/// | 0   | 4    | REPORTTYPE (type 0x81 = TDX, subtype, version, reserved) |
/// | 4   | 12   | reserved |
/// | 16  | 16   | CPUSVN |
/// | 32  | 48   | TEE_TCB_INFO_HASH (SHA-384 of TEE_TCB_INFO) |
/// | 80  | 48   | TEE_INFO_HASH (SHA-384 of TDINFO) |
/// | 128 | 64   | REPORTDATA |
/// | 192 | 32   | reserved |
/// | 224 | 32   | MAC |
/// | 256 | 239  | TEE_TCB_INFO (VALID, TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM, ATTRIBUTES, TEE_TCB_SVN2, reserved) |
/// | 495 | 17   | reserved |
/// | 512 | 512  | TDINFO (ATTRIBUTES, XFAM, MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0..3, SERVTD_HASH, reserved) |
public struct TDReport: Sendable, Equatable {
    public static let size = 1024

    public var rawBytes: [UInt8]

    public init(parsing bytes: [UInt8]) throws(EvidenceError) {
        guard bytes.count == TDReport.size else {
            throw EvidenceError(
                bytes.count < TDReport.size ? .truncated : .malformed,
                "failed to read TDREPORT: expected 1024 bytes, got \(bytes.count)")
        }
        guard bytes[0] == 0x81 else {
            throw EvidenceError(
                .malformed, "failed to read TDREPORT: report type 0x\(String(bytes[0], radix: 16)) is not TDX (0x81)")
        }
        rawBytes = bytes
    }

    private func slice(_ offset: Int, _ count: Int) -> [UInt8] { Array(rawBytes[offset..<offset + count]) }

    public var teeTCBInfoHash: [UInt8] { slice(32, 48) }
    public var teeInfoHash: [UInt8] { slice(80, 48) }
    public var reportData: [UInt8] { slice(128, 64) }
    public var mac: [UInt8] { slice(224, 32) }
    public var teeTCBInfo: [UInt8] { slice(256, 239) }
    public var teeTCBSVN: [UInt8] { slice(264, 16) }
    public var mrSeam: [UInt8] { slice(280, 48) }
    public var tdInfo: [UInt8] { slice(512, 512) }
    public var tdAttributes: [UInt8] { slice(512, 8) }
    public var xfam: [UInt8] { slice(520, 8) }
    public var mrTD: [UInt8] { slice(528, 48) }
    public var rtmr: [[UInt8]] { (0..<4).map { slice(720 + 48 * $0, 48) } }

    public func serialize() -> [UInt8] { rawBytes }

    public func summary() -> EvidenceSummary.TDX {
        EvidenceSummary.TDX(
            version: UInt16(rawBytes[2]), mrTD: Hex.encode(mrTD), mrSeam: Hex.encode(mrSeam),
            rtmr: rtmr.map { Hex.encode($0) }, reportData: Hex.encode(reportData),
            tdAttributes: Hex.encode(tdAttributes), xfam: Hex.encode(xfam),
            teeTCBSVN: Hex.encode(teeTCBSVN), debug: tdAttributes[0] & 1 == 1, simulated: false)
    }
}

/// Which kind of evidence some bytes are.
public enum EvidenceKind: Sendable, Equatable {
    case snpReport(SNPReport)
    case tdxQuote(TDXQuote)
    case tdReport(TDReport)

    /// Detects and parses: an SNP report is exactly 1184 bytes with version 2–5; a TDREPORT is 1024
    /// bytes starting with type 0x81; a TDX quote starts with version 4/5 and TEE type 0x81.
    public static func detect(_ bytes: [UInt8]) throws(EvidenceError) -> EvidenceKind {
        if bytes.count >= 8, bytes[0] == 4 || bytes[0] == 5, bytes[1] == 0, bytes[4] == 0x81 {
            return .tdxQuote(try TDXQuote(parsing: bytes))
        }
        if bytes.count == SNPReport.size { return .snpReport(try SNPReport(parsing: bytes)) }
        if bytes.count == TDReport.size { return .tdReport(try TDReport(parsing: bytes)) }
        throw EvidenceError(
            .unknownFormat,
            "unrecognised evidence (\(bytes.count) bytes): not an SNP report (1184 bytes), a TDREPORT (1024 bytes) "
                + "or a TDX quote (version 4/5, TEE type 0x81)")
    }
}
