// SPDX-License-Identifier: Apache-2.0
// The Azure paravisor's HCL report (vTPM NV index 0x01400001): header, hardware report, runtime variable data.

import AgentBase
import CanonicalJSON

/// The report Azure's paravisor (HCL) writes into vTPM NV index 0x01400001: the hardware report (an SNP
/// report or a TDREPORT) whose REPORT_DATA[0:32] is SHA-256 of the variable data, a JSON document
/// holding the vTPM attestation key (`HCLAkPub`, an RSA JWK) and the 64 bytes of `user-data` the guest
/// wrote to NV index 0x01400002. Layout (little-endian, the `az-cvm-vtpm` crate's `hcl` module):
///
/// | off    | size | field |
/// |--------|------|-------|
/// | 0x000  | 4    | signature "HCLA" |
/// | 0x004  | 4    | version |
/// | 0x008  | 4    | report size (through the variable data) |
/// | 0x00C  | 4    | request type |
/// | 0x010  | 4    | status |
/// | 0x014  | 12   | reserved |
/// | 0x020  | 1184 | hardware report: SNP report (1184 B), or TDREPORT (1024 B) then 160 bytes of padding |
/// | 0x4C0  | 4    | IGVM request data: data size (20 + variable data size) |
/// | 0x4C4  | 4    | version |
/// | 0x4C8  | 4    | report type (2 = SNP, 4 = TDX) |
/// | 0x4CC  | 4    | report data hash type (1 = SHA-256) |
/// | 0x4D0  | 4    | variable data size |
/// | 0x4D4  | n    | variable data (JSON) |
///
/// Bytes after the variable data (the NV index is larger than the report) are ignored.
public struct HCLReport: Sendable, Equatable {
    /// Bytes through the variable data size (the fixed part).
    public static let fixedSize = 0x4D4
    /// "HCLA".
    public static let magic: [UInt8] = Array("HCLA".utf8)
    /// The hash type of REPORT_DATA over the variable data that Azure uses and we support (SHA-256).
    public static let sha256HashType: UInt32 = 1
    /// The largest variable data accepted (the NV index holds a few KiB).
    public static let maxVariableDataSize = 16 * 1024

    /// The hardware report type of the IGVM request data.
    public enum ReportType: UInt32, Sendable {
        case snp = 2
        case tdx = 4
    }

    /// The hardware report, parsed.
    public enum HardwareReport: Sendable, Equatable {
        case snp(SNPReport)
        case tdx(TDReport)
    }

    public var version: UInt32
    public var reportSize: UInt32
    public var requestType: UInt32
    public var status: UInt32
    public var reportType: ReportType
    public var dataSize: UInt32
    public var dataVersion: UInt32
    public var hashType: UInt32
    public var hardwareReport: HardwareReport
    /// The runtime variable data as received (REPORT_DATA[0:32] is its SHA-256).
    public var variableData: [UInt8]
    /// The variable data, parsed.
    public var runtimeData: HCLRuntimeData
    public private(set) var rawBytes: [UInt8]

    /// Whether `bytes` start like an HCL report (for auto-detection).
    public static func matches(_ bytes: [UInt8]) -> Bool { bytes.starts(with: magic) }

    public init(parsing bytes: [UInt8]) throws(EvidenceError) {
        var r = ByteReader(bytes, context: "HCL report")
        guard try r.bytes(4, "signature") == HCLReport.magic else {
            throw EvidenceError(.unknownFormat, "failed to read HCL report: it does not start with 'HCLA'")
        }
        version = try r.u32("version")
        reportSize = try r.u32("report size")
        requestType = try r.u32("request type")
        status = try r.u32("status")
        _ = try r.bytes(12, "reserved")
        let hardware = try r.bytes(SNPReport.size, "hardware report")
        dataSize = try r.u32("data size")
        dataVersion = try r.u32("data version")
        let type = try r.u32("report type")
        guard let reportType = ReportType(rawValue: type) else {
            throw EvidenceError(
                .unknownFormat, "failed to read HCL report: report type \(type) is neither SNP (2) nor TDX (4)")
        }
        self.reportType = reportType
        hashType = try r.u32("report data hash type")
        guard hashType == HCLReport.sha256HashType else {
            throw EvidenceError(
                .unsupportedVersion,
                "failed to read HCL report: report data hash type \(hashType) is not SHA-256 (1), the only one supported"
            )
        }
        let size = Int(try r.u32("variable data size"))
        guard size <= HCLReport.maxVariableDataSize else {
            throw EvidenceError(
                .malformed,
                "failed to read HCL report: variable data of \(size) bytes (at most \(HCLReport.maxVariableDataSize))")
        }
        variableData = try r.bytes(size, "variable data")
        switch reportType {
        case .snp: hardwareReport = .snp(try SNPReport(parsing: hardware))
        case .tdx: hardwareReport = .tdx(try TDReport(parsing: Array(hardware.prefix(TDReport.size))))
        }
        runtimeData = try HCLRuntimeData(parsing: variableData)
        rawBytes = bytes
    }

    /// The hardware report's REPORT_DATA (SNP) or REPORTDATA (TDREPORT), 64 bytes.
    public var hardwareReportData: [UInt8] {
        switch hardwareReport {
        case .snp(let report): report.reportData
        case .tdx(let report): report.reportData
        }
    }

    /// A summary for `report decode --json`.
    public func summary() -> Summary {
        let hardware: EvidenceSummary.Azure.Hardware
        switch hardwareReport {
        case .snp(let report): hardware = .snp(report.summary())
        case .tdx(let report): hardware = .tdx(report.summary())
        }
        return Summary(
            version: version, reportType: reportType == .snp ? "snp" : "tdx", hardware: hardware,
            userData: Hex.encode(runtimeData.userData ?? []),
            akPubModulusBits: runtimeData.attestationKey.map { $0.modulusBits } ?? 0,
            vmConfiguration: runtimeData.vmConfiguration)
    }

    /// The stable JSON of `report decode --json` for an HCL report.
    public struct Summary: Sendable, Equatable, Encodable {
        public var type = "hcl"
        public var version: UInt32
        public var reportType: String
        public var hardware: EvidenceSummary.Azure.Hardware
        public var userData: String
        public var akPubModulusBits: Int
        public var vmConfiguration: String?

        enum CodingKeys: String, CodingKey {
            case type, version, hardware
            case reportType = "report_type"
            case userData = "user_data"
            case akPubModulusBits = "ak_pub_modulus_bits"
            case vmConfiguration = "vm_configuration"
        }
    }

    /// A human-readable description.
    public func describe() -> String {
        var lines = [
            "Azure HCL report, version \(version), \(reportType == .snp ? "SNP" : "TDX") hardware report",
            "  user data        : \(Hex.encode(runtimeData.userData ?? []))",
            "  HCLAkPub         : "
                + (runtimeData.attestationKey.map { "RSA \($0.modulusBits) bits" } ?? "absent or unreadable"),
            "  variable data    : \(variableData.count) bytes",
        ]
        if let configuration = runtimeData.vmConfiguration { lines.append("  VM configuration : \(configuration)") }
        switch hardwareReport {
        case .snp(let report): lines.append(report.describe())
        case .tdx(let report):
            lines.append("TDREPORT\n  MRTD          : \(Hex.encode(report.mrTD))")
            lines.append("  report data   : \(Hex.encode(report.reportData))")
        }
        return lines.joined(separator: "\n")
    }
}

/// The HCL report's variable data: `{"keys":[JWK…], "vm-configuration":{…}, "user-data":"<hex>"}`.
/// Parsing is strict JSON; a missing or unreadable `HCLAkPub` is recorded (``attestationKeyProblem``)
/// rather than thrown, so the verifier names the failed check.
public struct HCLRuntimeData: Sendable, Equatable {
    /// An RSA public key as a JWK (big-endian modulus and exponent).
    public struct RSAKey: Sendable, Equatable {
        public var modulus: [UInt8]
        public var exponent: [UInt8]

        public init(modulus: [UInt8], exponent: [UInt8]) {
            self.modulus = modulus
            self.exponent = exponent
        }
        public var modulusBits: Int {
            let trimmed = modulus.drop { $0 == 0 }
            guard let first = trimmed.first else { return 0 }
            return (trimmed.count - 1) * 8 + (8 - first.leadingZeroBitCount)
        }
    }

    public var json: JSONValue
    /// `HCLAkPub`, when present and readable.
    public var attestationKey: RSAKey?
    /// Why `HCLAkPub` could not be read, when it could not.
    public var attestationKeyProblem: String?
    /// `user-data` (hex in the JSON), when present and hex.
    public var userData: [UInt8]?
    /// `vm-configuration` as compact JSON, for display.
    public var vmConfiguration: String?

    public init(parsing bytes: [UInt8]) throws(EvidenceError) {
        do {
            json = try JSONValue.parse(bytes, maxDepth: 8)
        } catch {
            throw EvidenceError(.malformed, "failed to read HCL variable data: \(error)")
        }
        guard case .object = json else {
            throw EvidenceError(.malformed, "failed to read HCL variable data: it is not a JSON object")
        }
        userData = json["user-data"]?.stringValue.flatMap(Hex.decode)
        vmConfiguration = json["vm-configuration"].map(\.serializedString)
        do {
            attestationKey = try HCLRuntimeData.attestationKey(in: json)
        } catch {
            attestationKeyProblem = error.message
        }
    }

    private static func attestationKey(in json: JSONValue) throws(EvidenceError) -> RSAKey {
        func fail(_ why: String) -> EvidenceError { EvidenceError(.malformed, "HCLAkPub: \(why)") }
        guard let keys = json["keys"]?.arrayValue else { throw fail("the variable data has no 'keys' list") }
        let matching = keys.filter { $0["kid"]?.stringValue == "HCLAkPub" }
        guard let key = matching.first else { throw fail("no key with kid 'HCLAkPub' in 'keys'") }
        guard matching.count == 1 else { throw fail("\(matching.count) keys with kid 'HCLAkPub'") }
        guard key["kty"]?.stringValue == "RSA" else { throw fail("kty is not 'RSA'") }
        guard let n = key["n"]?.stringValue.flatMap({ AzureBase64.decode($0) }), !n.isEmpty, n.count <= 1024 else {
            throw fail("'n' is not base64url of at most 1024 bytes")
        }
        guard let e = key["e"]?.stringValue.flatMap({ AzureBase64.decode($0) }), !e.isEmpty, e.count <= 8 else {
            throw fail("'e' is not base64url of at most 8 bytes")
        }
        return RSAKey(modulus: n, exponent: e)
    }
}
