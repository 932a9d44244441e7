// SPDX-License-Identifier: Apache-2.0
// Intel TDX quotes v4 and v5 (TDX 1.0 and 1.5 bodies), QE report and certification data.

import AgentBase

/// The TD report body inside a quote (584 bytes for TDX 1.0; 648 with the TDX 1.5 fields).
///
/// | rel | size | field |
/// |-----|------|-------|
/// | 0   | 16   | TEE_TCB_SVN |
/// | 16  | 48   | MRSEAM |
/// | 64  | 48   | MRSIGNERSEAM |
/// | 112 | 8    | SEAMATTRIBUTES |
/// | 120 | 8    | TDATTRIBUTES |
/// | 128 | 8    | XFAM |
/// | 136 | 48   | MRTD |
/// | 184 | 48   | MRCONFIGID |
/// | 232 | 48   | MROWNER |
/// | 280 | 48   | MROWNERCONFIG |
/// | 328 | 4×48 | RTMR0..3 |
/// | 520 | 64   | REPORTDATA |
/// | 584 | 16   | TEE_TCB_SVN2 (1.5) |
/// | 600 | 48   | MRSERVICETD (1.5) |
public struct TDReportBody: Sendable, Equatable {
    public var teeTCBSVN: [UInt8]
    public var mrSeam: [UInt8]
    public var mrSignerSeam: [UInt8]
    public var seamAttributes: [UInt8]
    public var tdAttributes: [UInt8]
    public var xfam: [UInt8]
    public var mrTD: [UInt8]
    public var mrConfigID: [UInt8]
    public var mrOwner: [UInt8]
    public var mrOwnerConfig: [UInt8]
    public var rtmr: [[UInt8]]
    public var reportData: [UInt8]
    public var teeTCBSVN2: [UInt8]?
    public var mrServiceTD: [UInt8]?

    init(reading r: inout ByteReader, tdx15: Bool) throws(EvidenceError) {
        teeTCBSVN = try r.bytes(16, "TEE_TCB_SVN")
        mrSeam = try r.bytes(48, "MRSEAM")
        mrSignerSeam = try r.bytes(48, "MRSIGNERSEAM")
        seamAttributes = try r.bytes(8, "SEAMATTRIBUTES")
        tdAttributes = try r.bytes(8, "TDATTRIBUTES")
        xfam = try r.bytes(8, "XFAM")
        mrTD = try r.bytes(48, "MRTD")
        mrConfigID = try r.bytes(48, "MRCONFIGID")
        mrOwner = try r.bytes(48, "MROWNER")
        mrOwnerConfig = try r.bytes(48, "MROWNERCONFIG")
        rtmr = [try r.bytes(48, "RTMR0"), try r.bytes(48, "RTMR1"), try r.bytes(48, "RTMR2"), try r.bytes(48, "RTMR3")]
        reportData = try r.bytes(64, "REPORTDATA")
        if tdx15 {
            teeTCBSVN2 = try r.bytes(16, "TEE_TCB_SVN2")
            mrServiceTD = try r.bytes(48, "MRSERVICETD")
        }
    }

    public init(
        mrTD: [UInt8], rtmr: [[UInt8]], reportData: [UInt8], tdAttributes: [UInt8] = [UInt8](repeating: 0, count: 8)
    ) {
        teeTCBSVN = [3, 0, 4] + [UInt8](repeating: 0, count: 13)
        mrSeam = [UInt8](repeating: 0x5E, count: 48)
        mrSignerSeam = [UInt8](repeating: 0, count: 48)
        seamAttributes = [UInt8](repeating: 0, count: 8)
        self.tdAttributes = tdAttributes
        xfam = [0xE7, 0x1A, 0x06, 0, 0, 0, 0, 0]
        self.mrTD = mrTD.padded(48)
        mrConfigID = [UInt8](repeating: 0, count: 48)
        mrOwner = [UInt8](repeating: 0, count: 48)
        mrOwnerConfig = [UInt8](repeating: 0, count: 48)
        self.rtmr = (0..<4).map { $0 < rtmr.count ? rtmr[$0].padded(48) : [UInt8](repeating: 0, count: 48) }
        self.reportData = reportData.padded(64)
    }

    func write(to w: inout ByteWriter) {
        for field in [
            teeTCBSVN, mrSeam, mrSignerSeam, seamAttributes, tdAttributes, xfam, mrTD, mrConfigID, mrOwner,
            mrOwnerConfig,
        ] {
            w.append(field)
        }
        rtmr.forEach { w.append($0) }
        w.append(reportData)
        if let teeTCBSVN2, let mrServiceTD {
            w.append(teeTCBSVN2)
            w.append(mrServiceTD)
        }
    }

    /// TD attribute bit 0: the TD is debuggable (not confidential).
    public var debug: Bool { tdAttributes.first.map { $0 & 1 == 1 } ?? false }
}

/// The quoting enclave's SGX report body (384 bytes).
///
/// | off | size | field |
/// |-----|------|-------|
/// | 0   | 16   | CPUSVN |
/// | 16  | 4    | MISCSELECT |
/// | 20  | 28   | reserved |
/// | 48  | 16   | ATTRIBUTES |
/// | 64  | 32   | MRENCLAVE |
/// | 96  | 32   | reserved |
/// | 128 | 32   | MRSIGNER |
/// | 160 | 96   | reserved |
/// | 256 | 2    | ISVPRODID |
/// | 258 | 2    | ISVSVN |
/// | 260 | 60   | reserved |
/// | 320 | 64   | REPORTDATA |
public struct QEReport: Sendable, Equatable {
    public var raw: [UInt8]
    public init(raw: [UInt8]) { self.raw = raw }
    public var mrSigner: [UInt8] { Array(raw[128..<160]) }
    public var isvProdID: UInt16 { UInt16(raw[256]) | UInt16(raw[257]) << 8 }
    public var isvSVN: UInt16 { UInt16(raw[258]) | UInt16(raw[259]) << 8 }
    public var miscSelect: UInt32 { (0..<4).reduce(0) { $0 | UInt32(raw[16 + $1]) << (8 * $1) } }
    public var attributes: [UInt8] { Array(raw[48..<64]) }
    public var reportData: [UInt8] { Array(raw[320..<384]) }
}

/// A TDX quote (version 4 or 5).
public struct TDXQuote: Sendable, Equatable {
    public var version: UInt16
    public var attestationKeyType: UInt16
    public var teeType: UInt32
    public var headerReserved: UInt32
    public var qeVendorID: [UInt8]
    public var userData: [UInt8]
    /// v5 body type (2 = TDX 1.0, 3 = TDX 1.5); 2 for v4.
    public var bodyType: UInt16
    public var body: TDReportBody
    /// ECDSA P-256 r‖s over header‖body.
    public var signature: [UInt8]
    /// Attestation public key x‖y.
    public var attestationKey: [UInt8]
    public var qeReport: QEReport
    public var qeReportSignature: [UInt8]
    public var qeAuthData: [UInt8]
    /// The PCK chain (PEM; may end with a NUL byte).
    public var pckChain: [UInt8]
    /// Bytes covered by the quote signature, as received.
    public private(set) var signedBytes: [UInt8]
    /// The exact quote bytes (without any trailing padding).
    public private(set) var rawBytes: [UInt8]

    /// Parses a quote; trailing padding after the signature data is ignored.
    public init(parsing bytes: [UInt8]) throws(EvidenceError) {
        var r = ByteReader(bytes, context: "TDX quote")
        version = try r.u16("version")
        guard version == 4 || version == 5 else {
            throw EvidenceError(.unsupportedVersion, "failed to read TDX quote: version \(version) is not 4 or 5")
        }
        attestationKeyType = try r.u16("att_key_type")
        guard attestationKeyType == 2 else {
            throw EvidenceError(
                .malformed,
                "failed to read TDX quote: attestation key type \(attestationKeyType) is not ECDSA P-256 (2)")
        }
        teeType = try r.u32("tee_type")
        guard teeType == 0x81 else {
            throw EvidenceError(
                .malformed, "failed to read TDX quote: TEE type 0x\(String(teeType, radix: 16)) is not TDX (0x81)")
        }
        headerReserved = try r.u32("reserved")
        qeVendorID = try r.bytes(16, "qe_vendor_id")
        userData = try r.bytes(20, "user_data")
        if version == 5 {
            bodyType = try r.u16("body_type")
            let size = try r.u32("body_size")
            guard (bodyType == 2 && size == 584) || (bodyType == 3 && size == 648) else {
                throw EvidenceError(
                    .malformed, "failed to read TDX quote: body type \(bodyType) with size \(size) is not a TD report")
            }
        } else {
            bodyType = 2
        }
        body = try TDReportBody(reading: &r, tdx15: bodyType == 3)
        let signedEnd = r.offset
        let signatureLength = Int(try r.u32("signature_data_len"))
        guard signatureLength <= r.remaining else {
            throw EvidenceError(
                .truncated, "failed to read TDX quote: signature data of \(signatureLength) bytes exceeds the input")
        }
        let signatureEnd = r.offset + signatureLength
        signature = try r.bytes(64, "signature")
        attestationKey = try r.bytes(64, "attestation key")
        let certificationType = try r.u16("certification data type")
        guard certificationType == 6 else {
            throw EvidenceError(
                .malformed,
                "failed to read TDX quote: certification data type \(certificationType) is not 6 (QE report)")
        }
        let outerSize = Int(try r.u32("certification data size"))
        let certificationEnd = r.offset + outerSize
        guard certificationEnd == signatureEnd else {
            throw EvidenceError(
                .malformed,
                "failed to read TDX quote: the certification data size does not match the signature data length")
        }
        qeReport = QEReport(raw: try r.bytes(384, "QE report"))
        qeReportSignature = try r.bytes(64, "QE report signature")
        let authSize = Int(try r.u16("QE auth data size"))
        qeAuthData = try r.bytes(authSize, "QE auth data")
        let innerType = try r.u16("inner certification data type")
        guard innerType == 5 else {
            throw EvidenceError(
                .malformed, "failed to read TDX quote: inner certification data type \(innerType) is not 5 (PCK chain)")
        }
        let chainSize = Int(try r.u32("PCK chain size"))
        pckChain = try r.bytes(chainSize, "PCK chain")
        guard r.offset == certificationEnd else {
            throw EvidenceError(
                .malformed,
                "failed to read TDX quote: the QE certification data does not fill its declared size exactly")
        }
        signedBytes = Array(bytes[0..<signedEnd])
        rawBytes = Array(bytes[0..<signatureEnd])
    }

    /// Builds a v4 quote (the simulator): header, body, then signature data from the given parts.
    public init(
        body: TDReportBody, signature: [UInt8], attestationKey: [UInt8], qeReport: [UInt8], qeReportSignature: [UInt8],
        qeAuthData: [UInt8], pckChain: [UInt8]
    ) {
        version = 4
        attestationKeyType = 2
        teeType = 0x81
        headerReserved = 0
        qeVendorID = Hex.decode("939a7233f79c4ca9940a0db3957f0607") ?? []
        userData = [UInt8](repeating: 0, count: 20)
        bodyType = 2
        self.body = body
        self.signature = signature
        self.attestationKey = attestationKey
        self.qeReport = QEReport(raw: qeReport.padded(384))
        self.qeReportSignature = qeReportSignature
        self.qeAuthData = qeAuthData
        self.pckChain = pckChain
        signedBytes = []
        rawBytes = []
        signedBytes = headerAndBody()
        rawBytes = serialize()
    }

    /// The signed part: header and body (v5 includes the body type and size).
    public func headerAndBody() -> [UInt8] {
        var w = ByteWriter()
        w.u16(version)
        w.u16(attestationKeyType)
        w.u32(teeType)
        w.u32(headerReserved)
        w.append(qeVendorID)
        w.append(userData)
        if version == 5 {
            w.u16(bodyType)
            w.u32(bodyType == 3 ? 648 : 584)
        }
        body.write(to: &w)
        return w.bytes
    }

    /// Serializes in layout order; for a parsed quote this equals ``rawBytes``.
    public func serialize() -> [UInt8] {
        var certification = ByteWriter()
        certification.append(qeReport.raw)
        certification.append(qeReportSignature)
        certification.u16(UInt16(qeAuthData.count))
        certification.append(qeAuthData)
        certification.u16(5)
        certification.u32(UInt32(pckChain.count))
        certification.append(pckChain)
        var signatureData = ByteWriter()
        signatureData.append(signature)
        signatureData.append(attestationKey)
        signatureData.u16(6)
        signatureData.u32(UInt32(certification.bytes.count))
        signatureData.append(certification.bytes)
        var w = ByteWriter()
        w.append(headerAndBody())
        w.u32(UInt32(signatureData.bytes.count))
        w.append(signatureData.bytes)
        return w.bytes
    }

    /// Replaces the quote signature (after signing ``headerAndBody()``).
    public mutating func setSignature(_ signature: [UInt8]) {
        self.signature = signature
        rawBytes = serialize()
    }

    public func summary(simulated: Bool = false) -> EvidenceSummary.TDX {
        EvidenceSummary.TDX(
            version: version, mrTD: Hex.encode(body.mrTD), mrSeam: Hex.encode(body.mrSeam),
            rtmr: body.rtmr.map { Hex.encode($0) }, reportData: Hex.encode(body.reportData),
            tdAttributes: Hex.encode(body.tdAttributes), xfam: Hex.encode(body.xfam),
            teeTCBSVN: Hex.encode(body.teeTCBSVN), debug: body.debug, simulated: simulated)
    }

    public func describe() -> String {
        var lines = [
            "TDX quote, version \(version)\(bodyType == 3 ? " (TDX 1.5 body)" : "")",
            "  MRTD          : \(Hex.encode(body.mrTD))",
            "  MRSEAM        : \(Hex.encode(body.mrSeam))",
        ]
        for (index, value) in body.rtmr.enumerated() {
            lines.append("  RTMR\(index)         : \(Hex.encode(value))")
        }
        lines += [
            "  report data   : \(Hex.encode(body.reportData))",
            "  TD attributes : \(Hex.encode(body.tdAttributes))",
            "  XFAM          : \(Hex.encode(body.xfam))",
            "  TEE TCB SVN   : \(Hex.encode(body.teeTCBSVN))",
            "  QE ISVSVN     : \(qeReport.isvSVN)",
        ]
        if body.debug { lines.append("  WARNING       : the TD is debuggable (not confidential)") }
        return lines.joined(separator: "\n")
    }
}
