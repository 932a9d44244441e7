// SPDX-License-Identifier: Apache-2.0
// The SNP derived-key request (MSG_KEY_REQ): one type for the device, the LUKS token and sealed blobs.

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

    /// The names used by the CLI, the configuration and the LUKS token, in bit order.
    public static let names: [(String, GuestFieldSelect)] = [
        ("policy", .policy), ("image-id", .imageID), ("family-id", .familyID), ("measurement", .measurement),
        ("guest-svn", .guestSVN), ("tcb-version", .tcbVersion),
    ]

    /// The selection named by `names` (each known, none twice), or the error naming the bad word.
    public init(names words: some Sequence<some StringProtocol>) throws(FieldSelectError) {
        var result: GuestFieldSelect = []
        for word in words {
            guard let field = Self.names.first(where: { $0.0 == word })?.1 else {
                throw FieldSelectError(
                    description:
                        "unknown SNP key field '\(word)': use \(Self.names.map(\.0).joined(separator: ","))")
            }
            guard !result.contains(field) else {
                throw FieldSelectError(description: "SNP key field '\(word)' is named twice")
            }
            result.insert(field)
        }
        self = result
    }

    /// Parses `policy,measurement,...` (blank words ignored).
    public static func parse(_ list: String) -> Result<GuestFieldSelect, FieldSelectError> {
        let words = list.split(separator: ",").map { $0.filter { $0 != " " } }.filter { !$0.isEmpty }
        return Result { () throws(FieldSelectError) in try GuestFieldSelect(names: words) }
    }

    /// The selected names, in bit order.
    public var names: [String] { Self.names.filter { contains($0.1) }.map(\.0) }
}

/// A field list that does not parse.
public struct FieldSelectError: Error, CustomStringConvertible, Equatable {
    public var description: String
}

/// A MSG_KEY_REQ (SNP_GET_DERIVED_KEY): root key, guest field selection, VMPL, guest SVN, TCB version.
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
