// SPDX-License-Identifier: Apache-2.0
// The extended-report certificate table (GHCB spec 56421 §4.1.8.1): GUID-tagged DER certificates.

import AgentBase

/// The certificate table of SNP_GET_EXT_REPORT / configfs-tsm `auxblob`.
///
/// An array of 24-byte entries `{ guid[16]; u32 offset; u32 length }` terminated by an all-zero entry;
/// offsets are relative to the start of the table. GUIDs are matched in RFC 4122 byte order and, since
/// implementations disagree, also in the mixed-endian EFI layout.
public struct SNPCertificateTable: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case vcek, vlek, ask, ark, crl, extraPlatformInfo

        /// The GUID in RFC 4122 string order.
        public var guid: String {
            switch self {
            case .vcek: "63da758d-e664-4564-adc5-f4b93be8accd"
            case .vlek: "a8074bc2-a25a-483e-aae6-39c045a0b8a1"
            case .ask: "4ab7b379-bbac-4fe4-a02f-05aef327c782"
            case .ark: "c0b406a4-a803-4952-9743-3fb6014cd0ae"
            case .crl: "92f81bc3-5811-4d3d-97ff-d19f88dc67ea"
            case .extraPlatformInfo: "ecae0c0f-9502-43b1-afa2-0ae2e0d565b6"
            }
        }

        var guidBytes: [UInt8] { Hex.decode(guid.filter { $0 != "-" }) ?? [] }

        /// The EFI (mixed-endian) layout of the same GUID.
        var efiGUIDBytes: [UInt8] {
            let b = guidBytes
            return [b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6]] + b[8...]
        }
    }

    public struct Entry: Sendable, Equatable {
        public var guid: [UInt8]
        public var kind: Kind?
        public var der: [UInt8]
    }

    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// Parses a table; every offset and length is checked against the buffer.
    public init(parsing bytes: [UInt8]) throws(EvidenceError) {
        var reader = ByteReader(bytes, context: "SNP certificate table")
        var entries: [Entry] = []
        while true {
            guard entries.count < 64 else {
                throw EvidenceError(.malformed, "failed to read SNP certificate table: more than 64 entries")
            }
            let guid = try reader.bytes(16, "entry GUID")
            let offset = Int(try reader.u32("entry offset"))
            let length = Int(try reader.u32("entry length"))
            if guid.allSatisfy({ $0 == 0 }) && offset == 0 && length == 0 { break }
            guard offset <= bytes.count, length <= bytes.count - offset else {
                throw EvidenceError(
                    .malformed,
                    "failed to read SNP certificate table: entry \(entries.count) points past the buffer "
                        + "(offset \(offset), length \(length), buffer \(bytes.count))")
            }
            let kind = Kind.allCases.first { $0.guidBytes == guid || $0.efiGUIDBytes == guid }
            entries.append(Entry(guid: guid, kind: kind, der: Array(bytes[offset..<offset + length])))
        }
        self.entries = entries
    }

    /// The first certificate of `kind`.
    public func certificate(_ kind: Kind) -> [UInt8]? {
        entries.first { $0.kind == kind }?.der
    }

    /// Serializes with RFC 4122 GUIDs, blobs after the terminator, `alignment`-padded.
    public func serialize(alignment: Int = 1) -> [UInt8] {
        var header = ByteWriter()
        var blobs: [UInt8] = []
        let tableSize = (entries.count + 1) * 24
        for entry in entries {
            header.append(entry.guid)
            header.u32(UInt32(tableSize + blobs.count))
            header.u32(UInt32(entry.der.count))
            blobs += entry.der
        }
        header.zeros(24)
        var out = header.bytes + blobs
        if alignment > 1, out.count % alignment != 0 {
            out += [UInt8](repeating: 0, count: alignment - out.count % alignment)
        }
        return out
    }

    /// Builds a table of DER certificates by kind.
    public init(certificates: [(Kind, [UInt8])]) {
        entries = certificates.map { Entry(guid: $0.0.guidBytes, kind: $0.0, der: $0.1) }
    }
}
