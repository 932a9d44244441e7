// SPDX-License-Identifier: Apache-2.0
// The seam between the agent and a TEE: evidence and derived keys, from the kernel or the simulator.

import SecureMemory
import TEEEvidence

/// Which source of evidence a device is.
public enum TEEKind: String, Sendable, CaseIterable {
    case snp, tdx
    case simSNP = "sim-snp"
    case simTDX = "sim-tdx"

    /// The protocol-level TEE name (`snp` or `tdx`) a broker sees.
    public var protocolName: String {
        switch self {
        case .snp, .simSNP: "snp"
        case .tdx, .simTDX: "tdx"
        }
    }

    public var isSimulated: Bool { self == .simSNP || self == .simTDX }
}

/// Evidence as the hardware produced it.
public struct AttestationEvidence: Sendable {
    public var kind: TEEKind
    /// SNP: the 1184-byte report. TDX: the quote.
    public var bytes: [UInt8]
    /// SNP: the certificate table from the extended report (VCEK/ASK/ARK), when the host provides one.
    public var certificateTable: SNPCertificateTable?
    /// TDX: the CCEL event log, when present.
    public var eventLog: [UInt8]?

    public init(
        kind: TEEKind, bytes: [UInt8], certificateTable: SNPCertificateTable? = nil, eventLog: [UInt8]? = nil
    ) {
        self.kind = kind
        self.bytes = bytes
        self.certificateTable = certificateTable
        self.eventLog = eventLog
    }
}

/// The fields MSG_KEY_REQ can mix into a derived key (GUEST_FIELD_SELECT bits 0–5).
public struct GuestFieldSelect: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let policy = GuestFieldSelect(rawValue: 1 << 0)
    public static let imageID = GuestFieldSelect(rawValue: 1 << 1)
    public static let familyID = GuestFieldSelect(rawValue: 1 << 2)
    public static let measurement = GuestFieldSelect(rawValue: 1 << 3)
    public static let guestSVN = GuestFieldSelect(rawValue: 1 << 4)
    public static let tcbVersion = GuestFieldSelect(rawValue: 1 << 5)

    /// The CLI names, in bit order.
    public static let names: [(String, GuestFieldSelect)] = [
        ("policy", .policy), ("image-id", .imageID), ("family-id", .familyID), ("measurement", .measurement),
        ("guest-svn", .guestSVN), ("tcb-version", .tcbVersion),
    ]

    /// Parses `policy,measurement,...`; nil names the unknown word.
    public static func parse(_ list: String) -> Result<GuestFieldSelect, DeviceError> {
        var result: GuestFieldSelect = []
        for word in list.split(separator: ",").map({ $0.trimmingCharacters(in: " ") }) where !word.isEmpty {
            guard let field = names.first(where: { $0.0 == word })?.1 else {
                return .failure(
                    DeviceError(
                        .invalidRequest,
                        "unknown field '\(word)': use \(names.map(\.0).joined(separator: ","))"))
            }
            result.insert(field)
        }
        return .success(result)
    }

    public var names: [String] { Self.names.filter { contains($0.1) }.map(\.0) }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var slice = Substring(self)
        while slice.first == set { slice.removeFirst() }
        while slice.last == set { slice.removeLast() }
        return String(slice)
    }
}

/// A MSG_KEY_REQ (SNP_GET_DERIVED_KEY).
public struct DerivedKeyRequest: Sendable, Equatable {
    public enum RootKey: String, Sendable, CaseIterable {
        case vcek, vmrk
    }

    public var rootKey: RootKey
    public var fields: GuestFieldSelect
    public var vmpl: UInt32
    public var guestSVN: UInt32
    public var tcbVersion: UInt64

    public init(
        rootKey: RootKey = .vcek, fields: GuestFieldSelect = [], vmpl: UInt32 = 0, guestSVN: UInt32 = 0,
        tcbVersion: UInt64 = 0
    ) {
        self.rootKey = rootKey
        self.fields = fields
        self.vmpl = vmpl
        self.guestSVN = guestSVN
        self.tcbVersion = tcbVersion
    }
}

/// A TEE the agent can ask for evidence and keys.
public protocol GuestDevice: Sendable {
    var kind: TEEKind { get }
    /// A report/quote whose REPORT_DATA is `reportData` (64 bytes, zero-padded by the caller).
    func evidence(reportData: [UInt8], vmpl: UInt32) throws(DeviceError) -> AttestationEvidence
    /// An SNP derived key (32 bytes). TDX has none.
    func derivedKey(_ request: DerivedKeyRequest) throws(DeviceError) -> SecretBytes
}
