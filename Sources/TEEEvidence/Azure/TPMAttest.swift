// SPDX-License-Identifier: Apache-2.0
// TPM 2.0 TPMS_ATTEST of a TPM2_Quote and TPMT_SIGNATURE (big-endian, TPM 2.0 Part 2), read with ByteReader.

/// A TPMS_ATTEST whose `attested` member is a TPMS_QUOTE_INFO (TPM 2.0 Part 2, 10.12.12 and 10.12.1).
/// All integers are big-endian; the structure must fill the message exactly.
///
/// | size | field |
/// |------|-------|
/// | 4    | magic = TPM_GENERATED_VALUE 0xFF544347 |
/// | 2    | type = TPM_ST_ATTEST_QUOTE 0x8018 |
/// | 2+n  | qualifiedSigner (TPM2B_NAME, n ≤ 66) |
/// | 2+n  | extraData (TPM2B_DATA, n ≤ 64: the caller's qualifying data, the nonce) |
/// | 17   | clockInfo (TPMS_CLOCK_INFO: clock u64, resetCount u32, restartCount u32, safe u8) |
/// | 8    | firmwareVersion |
/// | 4+…  | pcrSelect (TPML_PCR_SELECTION: count u32 ≤ 16, then {hash u16, sizeofSelect u8 ≤ 4, pcrSelect[]}) |
/// | 2+n  | pcrDigest (TPM2B_DIGEST, n ≤ 64) |
public struct TPMQuoteInfo: Sendable, Equatable {
    /// TPM_GENERATED_VALUE.
    public static let generatedMagic: UInt32 = 0xFF54_4347
    /// TPM_ST_ATTEST_QUOTE.
    public static let attestQuoteType: UInt16 = 0x8018
    /// TPM_ALG_SHA256.
    public static let sha256Algorithm: UInt16 = 0x000B

    /// One TPMS_PCR_SELECTION: a hash bank and the bitmap of selected PCRs (bit i of byte i/8 = PCR i).
    public struct PCRSelection: Sendable, Equatable {
        public var hashAlgorithm: UInt16
        public var bitmap: [UInt8]

        /// The selected PCR indices, ascending.
        public var indices: [Int] {
            bitmap.enumerated().flatMap { byte in
                (0..<8).filter { byte.element >> $0 & 1 == 1 }.map { byte.offset * 8 + $0 }
            }
        }
    }

    public var qualifiedSigner: [UInt8]
    /// The qualifying data given to TPM2_Quote (Azure evidence: the report data).
    public var extraData: [UInt8]
    public var clock: UInt64
    public var resetCount: UInt32
    public var restartCount: UInt32
    public var safe: UInt8
    public var firmwareVersion: UInt64
    public var pcrSelections: [PCRSelection]
    /// The digest of the selected PCR values, in selection order, with the signing key's hash.
    public var pcrDigest: [UInt8]
    /// The message as received (the signature covers exactly these bytes).
    public private(set) var rawBytes: [UInt8]

    public init(parsing bytes: [UInt8]) throws(EvidenceError) {
        var r = ByteReader(bytes, context: "TPM quote (TPMS_ATTEST)")
        let magic = try r.u32BE("magic")
        guard magic == TPMQuoteInfo.generatedMagic else {
            throw EvidenceError(
                .malformed,
                "failed to read TPM quote: magic 0x\(String(magic, radix: 16)) is not TPM_GENERATED_VALUE (0xff544347)")
        }
        let type = try r.u16BE("type")
        guard type == TPMQuoteInfo.attestQuoteType else {
            throw EvidenceError(
                .malformed,
                "failed to read TPM quote: type 0x\(String(type, radix: 16)) is not TPM_ST_ATTEST_QUOTE (0x8018)")
        }
        qualifiedSigner = try r.sized("qualifiedSigner", max: 66)
        extraData = try r.sized("extraData", max: 64)
        clock = try r.u64BE("clockInfo.clock")
        resetCount = try r.u32BE("clockInfo.resetCount")
        restartCount = try r.u32BE("clockInfo.restartCount")
        safe = try r.u8("clockInfo.safe")
        firmwareVersion = try r.u64BE("firmwareVersion")
        let count = try r.u32BE("pcrSelect.count")
        guard count <= 16 else {
            throw EvidenceError(.malformed, "failed to read TPM quote: \(count) PCR selections (at most 16)")
        }
        var selections: [PCRSelection] = []
        for index in 0..<Int(count) {
            let hash = try r.u16BE("pcrSelections[\(index)].hash")
            let size = try r.u8("pcrSelections[\(index)].sizeofSelect")
            guard size <= 4 else {
                throw EvidenceError(
                    .malformed, "failed to read TPM quote: PCR selection \(index) is \(size) bytes (at most 4)")
            }
            selections.append(
                PCRSelection(hashAlgorithm: hash, bitmap: try r.bytes(Int(size), "pcrSelections[\(index)].pcrSelect")))
        }
        pcrSelections = selections
        pcrDigest = try r.sized("pcrDigest", max: 64)
        guard r.remaining == 0 else {
            throw EvidenceError(
                .malformed, "failed to read TPM quote: \(r.remaining) bytes follow the TPMS_ATTEST structure")
        }
        rawBytes = bytes
    }
}

/// A TPMT_SIGNATURE with an RSA scheme: sigAlg (TPM_ALG_RSASSA 0x0014 or TPM_ALG_RSAPSS 0x0016) u16,
/// hash u16, then TPM2B_PUBLIC_KEY_RSA (u16 size, the signature). Big-endian; must fill the bytes exactly.
public struct TPMSignature: Sendable, Equatable {
    public enum Scheme: UInt16, Sendable {
        case rsassa = 0x0014
        case rsapss = 0x0016
    }

    public var scheme: Scheme
    public var hashAlgorithm: UInt16
    public var signature: [UInt8]

    public init(scheme: Scheme, hashAlgorithm: UInt16, signature: [UInt8]) {
        self.scheme = scheme
        self.hashAlgorithm = hashAlgorithm
        self.signature = signature
    }

    public init(parsing bytes: [UInt8]) throws(EvidenceError) {
        var r = ByteReader(bytes, context: "TPM signature (TPMT_SIGNATURE)")
        let algorithm = try r.u16BE("sigAlg")
        guard let scheme = Scheme(rawValue: algorithm) else {
            throw EvidenceError(
                .malformed,
                "failed to read TPM signature: algorithm 0x\(String(algorithm, radix: 16)) is not RSASSA or RSAPSS")
        }
        self.scheme = scheme
        hashAlgorithm = try r.u16BE("hash")
        signature = try r.sized("signature", max: 1024)
        guard r.remaining == 0 else {
            throw EvidenceError(.malformed, "failed to read TPM signature: \(r.remaining) trailing bytes")
        }
    }
}

extension ByteReader {
    /// A big-endian u16 (TPM structures).
    mutating func u16BE(_ field: String) throws(EvidenceError) -> UInt16 {
        UInt16(truncatingIfNeeded: try bigEndian(2, field))
    }

    mutating func u32BE(_ field: String) throws(EvidenceError) -> UInt32 {
        UInt32(truncatingIfNeeded: try bigEndian(4, field))
    }

    mutating func u64BE(_ field: String) throws(EvidenceError) -> UInt64 {
        try bigEndian(8, field)
    }

    private mutating func bigEndian(_ count: Int, _ field: String) throws(EvidenceError) -> UInt64 {
        try bytes(count, field).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A TPM2B: a big-endian u16 size, at most `max`, then that many bytes.
    mutating func sized(_ field: String, max: Int) throws(EvidenceError) -> [UInt8] {
        let size = Int(try u16BE("\(field).size"))
        guard size <= max else {
            throw EvidenceError(.malformed, "failed to read \(context): '\(field)' is \(size) bytes (at most \(max))")
        }
        return try bytes(size, field)
    }
}
