// SPDX-License-Identifier: Apache-2.0
// The SEV-SNP ATTESTATION_REPORT (versions 2, 3, 5): parsing in layout order and exact re-serialization.

/// An SNP attestation report (1184 bytes).
///
/// | off   | size | field |
/// |-------|------|-------|
/// | 0x000 | 4    | VERSION (2, 3, 4, 5) |
/// | 0x004 | 4    | GUEST_SVN |
/// | 0x008 | 8    | POLICY |
/// | 0x010 | 16   | FAMILY_ID |
/// | 0x020 | 16   | IMAGE_ID |
/// | 0x030 | 4    | VMPL |
/// | 0x034 | 4    | SIGNATURE_ALGO (1 = ECDSA P-384 SHA-384) |
/// | 0x038 | 8    | CURRENT_TCB |
/// | 0x040 | 8    | PLATFORM_INFO |
/// | 0x048 | 4    | KEY_INFO (0 AUTHOR_KEY_EN, 1 MASK_CHIP_KEY, 4:2 SIGNING_KEY) |
/// | 0x04C | 4    | reserved, MBZ |
/// | 0x050 | 64   | REPORT_DATA |
/// | 0x090 | 48   | MEASUREMENT |
/// | 0x0C0 | 32   | HOST_DATA |
/// | 0x0E0 | 48   | ID_KEY_DIGEST |
/// | 0x110 | 48   | AUTHOR_KEY_DIGEST |
/// | 0x140 | 32   | REPORT_ID |
/// | 0x160 | 32   | REPORT_ID_MA |
/// | 0x180 | 8    | REPORTED_TCB |
/// | 0x188 | 3    | CPUID_FAM_ID, CPUID_MOD_ID, CPUID_STEP (v3+; reserved in v2) |
/// | 0x18B | 21   | reserved, MBZ |
/// | 0x1A0 | 64   | CHIP_ID |
/// | 0x1E0 | 8    | COMMITTED_TCB |
/// | 0x1E8 | 3+1  | CURRENT_BUILD, CURRENT_MINOR, CURRENT_MAJOR, reserved |
/// | 0x1EC | 3+1  | COMMITTED_BUILD, COMMITTED_MINOR, COMMITTED_MAJOR, reserved |
/// | 0x1F0 | 8    | LAUNCH_TCB |
/// | 0x1F8 | 8    | LAUNCH_MIT_VECTOR (v4+; MBZ before) |
/// | 0x200 | 8    | CURRENT_MIT_VECTOR (v4+; MBZ before) |
/// | 0x208 | 152  | reserved, MBZ |
/// | 0x2A0 | 72   | SIGNATURE R (little-endian) |
/// | 0x2E8 | 72   | SIGNATURE S (little-endian) |
/// | 0x330 | 368  | reserved, MBZ |
public struct SNPReport: Sendable, Equatable {
    public static let size = 0x4A0
    /// The bytes the firmware signs.
    public static let signedRange = 0..<0x2A0

    public var version: UInt32
    public var guestSVN: UInt32
    public var policy: SNPGuestPolicy
    public var familyID: [UInt8]
    public var imageID: [UInt8]
    public var vmpl: UInt32
    public var signatureAlgorithm: UInt32
    public var currentTCBRaw: UInt64
    public var platformInfo: SNPPlatformInfo
    public var keyInfo: UInt32
    public var reportData: [UInt8]
    public var measurement: [UInt8]
    public var hostData: [UInt8]
    public var idKeyDigest: [UInt8]
    public var authorKeyDigest: [UInt8]
    public var reportID: [UInt8]
    public var reportIDMA: [UInt8]
    public var reportedTCBRaw: UInt64
    public var cpuidFamily: UInt8
    public var cpuidModel: UInt8
    public var cpuidStepping: UInt8
    public var chipID: [UInt8]
    public var committedTCBRaw: UInt64
    public var currentBuild: UInt8
    public var currentMinor: UInt8
    public var currentMajor: UInt8
    public var committedBuild: UInt8
    public var committedMinor: UInt8
    public var committedMajor: UInt8
    public var launchTCBRaw: UInt64
    public var launchMitigationVector: UInt64
    public var currentMitigationVector: UInt64
    /// Signature R and S as stored: 72 bytes each, little-endian.
    public var signatureR: [UInt8]
    public var signatureS: [UInt8]

    /// The exact bytes this report was parsed from (verify these, never a re-serialization).
    public private(set) var rawBytes: [UInt8]

    /// Parses a report. Trailing bytes beyond 1184 are an error (use ``init(parsingPrefixOf:)``
    /// for containers that append data).
    public init(parsing bytes: [UInt8]) throws(EvidenceError) {
        guard bytes.count == SNPReport.size else {
            throw EvidenceError(
                bytes.count < SNPReport.size ? .truncated : .malformed,
                "failed to read SNP report: expected \(SNPReport.size) bytes, got \(bytes.count)")
        }
        var r = ByteReader(bytes, context: "SNP report")
        version = try r.u32("VERSION")
        guard (2...5).contains(version) else {
            throw EvidenceError(
                .unsupportedVersion, "failed to read SNP report: version \(version) is not supported (2, 3, 4, 5 are)")
        }
        guestSVN = try r.u32("GUEST_SVN")
        policy = SNPGuestPolicy(raw: try r.u64("POLICY"))
        familyID = try r.bytes(16, "FAMILY_ID")
        imageID = try r.bytes(16, "IMAGE_ID")
        vmpl = try r.u32("VMPL")
        signatureAlgorithm = try r.u32("SIGNATURE_ALGO")
        currentTCBRaw = try r.u64("CURRENT_TCB")
        platformInfo = SNPPlatformInfo(raw: try r.u64("PLATFORM_INFO"))
        keyInfo = try r.u32("KEY_INFO")
        _ = try r.reserved(4, "reserved 0x04C")
        reportData = try r.bytes(64, "REPORT_DATA")
        measurement = try r.bytes(48, "MEASUREMENT")
        hostData = try r.bytes(32, "HOST_DATA")
        idKeyDigest = try r.bytes(48, "ID_KEY_DIGEST")
        authorKeyDigest = try r.bytes(48, "AUTHOR_KEY_DIGEST")
        reportID = try r.bytes(32, "REPORT_ID")
        reportIDMA = try r.bytes(32, "REPORT_ID_MA")
        reportedTCBRaw = try r.u64("REPORTED_TCB")
        if version >= 3 {
            cpuidFamily = try r.u8("CPUID_FAM_ID")
            cpuidModel = try r.u8("CPUID_MOD_ID")
            cpuidStepping = try r.u8("CPUID_STEP")
        } else {
            _ = try r.reserved(3, "reserved 0x188 (v2)")
            (cpuidFamily, cpuidModel, cpuidStepping) = (0, 0, 0)
        }
        _ = try r.reserved(21, "reserved 0x18B")
        chipID = try r.bytes(64, "CHIP_ID")
        committedTCBRaw = try r.u64("COMMITTED_TCB")
        currentBuild = try r.u8("CURRENT_BUILD")
        currentMinor = try r.u8("CURRENT_MINOR")
        currentMajor = try r.u8("CURRENT_MAJOR")
        _ = try r.reserved(1, "reserved 0x1EB")
        committedBuild = try r.u8("COMMITTED_BUILD")
        committedMinor = try r.u8("COMMITTED_MINOR")
        committedMajor = try r.u8("COMMITTED_MAJOR")
        _ = try r.reserved(1, "reserved 0x1EF")
        launchTCBRaw = try r.u64("LAUNCH_TCB")
        if version >= 4 {
            launchMitigationVector = try r.u64("LAUNCH_MIT_VECTOR")
            currentMitigationVector = try r.u64("CURRENT_MIT_VECTOR")
        } else {
            _ = try r.reserved(16, "reserved 0x1F8 (v2/v3)")
            (launchMitigationVector, currentMitigationVector) = (0, 0)
        }
        _ = try r.reserved(152, "reserved 0x208")
        signatureR = try r.bytes(72, "SIGNATURE R")
        signatureS = try r.bytes(72, "SIGNATURE S")
        _ = try r.reserved(368, "reserved signature area 0x330")
        rawBytes = bytes
    }

    /// Serializes the fields in layout order. For a parsed report this equals ``rawBytes``.
    public func serialize() -> [UInt8] {
        var w = ByteWriter()
        w.u32(version)
        w.u32(guestSVN)
        w.u64(policy.raw)
        w.append(familyID.padded(16))
        w.append(imageID.padded(16))
        w.u32(vmpl)
        w.u32(signatureAlgorithm)
        w.u64(currentTCBRaw)
        w.u64(platformInfo.raw)
        w.u32(keyInfo)
        w.zeros(4)
        w.append(reportData.padded(64))
        w.append(measurement.padded(48))
        w.append(hostData.padded(32))
        w.append(idKeyDigest.padded(48))
        w.append(authorKeyDigest.padded(48))
        w.append(reportID.padded(32))
        w.append(reportIDMA.padded(32))
        w.u64(reportedTCBRaw)
        w.u8(cpuidFamily)
        w.u8(cpuidModel)
        w.u8(cpuidStepping)
        w.zeros(21)
        w.append(chipID.padded(64))
        w.u64(committedTCBRaw)
        w.u8(currentBuild)
        w.u8(currentMinor)
        w.u8(currentMajor)
        w.zeros(1)
        w.u8(committedBuild)
        w.u8(committedMinor)
        w.u8(committedMajor)
        w.zeros(1)
        w.u64(launchTCBRaw)
        w.u64(launchMitigationVector)
        w.u64(currentMitigationVector)
        w.zeros(152)
        w.append(signatureR.padded(72))
        w.append(signatureS.padded(72))
        w.zeros(368)
        return w.bytes
    }

    /// The signed bytes 0x000–0x29F of the report as received.
    public var signedBytes: [UInt8] { Array(rawBytes[SNPReport.signedRange]) }

    /// Whether the TCB fields use Turin's layout (CPUID family 0x1A, v3+).
    public var usesTurinTCBEncoding: Bool { version >= 3 && cpuidFamily == 0x1A }

    public var currentTCB: TCBVersion { TCBVersion(raw: currentTCBRaw, turinEncoding: usesTurinTCBEncoding) }
    public var reportedTCB: TCBVersion { TCBVersion(raw: reportedTCBRaw, turinEncoding: usesTurinTCBEncoding) }
    public var committedTCB: TCBVersion { TCBVersion(raw: committedTCBRaw, turinEncoding: usesTurinTCBEncoding) }
    public var launchTCB: TCBVersion { TCBVersion(raw: launchTCBRaw, turinEncoding: usesTurinTCBEncoding) }

    /// KEY_INFO bits 4:2.
    public var signingKey: SNPSigningKey {
        switch (keyInfo >> 2) & 7 {
        case 0: .vcek
        case 1: .vlek
        default: .none
        }
    }

    /// KEY_INFO bit 1: the chip key was masked (the signature is zeros).
    public var chipKeyMasked: Bool { keyInfo & 2 != 0 }

    /// The processor generation from CPUID (v3+), or nil when a v2 report does not say.
    public var productName: String? {
        guard version >= 3 else { return nil }
        switch (cpuidFamily, cpuidModel) {
        case (0x19, 0x00...0x0F): return "Milan"
        case (0x19, 0x10...0x1F), (0x19, 0xA0...0xAF): return "Genoa"
        case (0x1A, 0x00...0x11): return "Turin"
        default: return nil
        }
    }

    /// Signature R and S as big-endian integers of `width` bytes (48 for P-384).
    public func signatureBigEndian(width: Int = 48) -> (r: [UInt8], s: [UInt8]) {
        (Array(signatureR.prefix(width).reversed()), Array(signatureS.prefix(width).reversed()))
    }

    /// Replaces the signature with big-endian r and s (as a signer produces them).
    public mutating func setSignature(r: [UInt8], s: [UInt8]) {
        signatureR = Array(r.reversed()).padded(72)
        signatureS = Array(s.reversed()).padded(72)
        rawBytes = serialize()
    }

    /// A report built from fields (e.g. by the simulator); ``rawBytes`` is its serialization.
    public init(
        version: UInt32, guestSVN: UInt32, policy: UInt64, familyID: [UInt8], imageID: [UInt8], vmpl: UInt32,
        currentTCB: UInt64, platformInfo: UInt64, keyInfo: UInt32, reportData: [UInt8], measurement: [UInt8],
        hostData: [UInt8], idKeyDigest: [UInt8], authorKeyDigest: [UInt8], reportID: [UInt8], reportIDMA: [UInt8],
        reportedTCB: UInt64, cpuid: (family: UInt8, model: UInt8, stepping: UInt8), chipID: [UInt8],
        committedTCB: UInt64, currentFirmware: (build: UInt8, minor: UInt8, major: UInt8),
        committedFirmware: (build: UInt8, minor: UInt8, major: UInt8), launchTCB: UInt64,
        launchMitigationVector: UInt64 = 0, currentMitigationVector: UInt64 = 0
    ) {
        self.version = version
        self.guestSVN = guestSVN
        self.policy = SNPGuestPolicy(raw: policy)
        self.familyID = familyID.padded(16)
        self.imageID = imageID.padded(16)
        self.vmpl = vmpl
        self.signatureAlgorithm = 1
        self.currentTCBRaw = currentTCB
        self.platformInfo = SNPPlatformInfo(raw: platformInfo)
        self.keyInfo = keyInfo
        self.reportData = reportData.padded(64)
        self.measurement = measurement.padded(48)
        self.hostData = hostData.padded(32)
        self.idKeyDigest = idKeyDigest.padded(48)
        self.authorKeyDigest = authorKeyDigest.padded(48)
        self.reportID = reportID.padded(32)
        self.reportIDMA = reportIDMA.padded(32)
        self.reportedTCBRaw = reportedTCB
        (cpuidFamily, cpuidModel, cpuidStepping) = cpuid
        self.chipID = chipID.padded(64)
        self.committedTCBRaw = committedTCB
        (currentBuild, currentMinor, currentMajor) = currentFirmware
        (committedBuild, committedMinor, committedMajor) = committedFirmware
        self.launchTCBRaw = launchTCB
        self.launchMitigationVector = launchMitigationVector
        self.currentMitigationVector = currentMitigationVector
        self.signatureR = [UInt8](repeating: 0, count: 72)
        self.signatureS = [UInt8](repeating: 0, count: 72)
        self.rawBytes = []
        self.rawBytes = serialize()
    }
}

extension Array where Element == UInt8 {
    /// Zero-pads (or truncates) to `count` bytes.
    func padded(_ count: Int) -> [UInt8] {
        self.count >= count ? Array(prefix(count)) : self + [UInt8](repeating: 0, count: count - self.count)
    }
}
