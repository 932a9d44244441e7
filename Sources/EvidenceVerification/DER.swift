// SPDX-License-Identifier: Apache-2.0
// Just enough DER to read AMD's VCEK extension values (INTEGER, OCTET STRING, IA5String).

enum DER {
    /// Reads one TLV with the expected tag; returns the contents, or nil on any malformation.
    static func contents(_ bytes: [UInt8], tag: UInt8) -> [UInt8]? {
        guard bytes.count >= 2, bytes[0] == tag else { return nil }
        var length = Int(bytes[1])
        var start = 2
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count >= 1, count <= 3, bytes.count >= 2 + count else { return nil }
            length = bytes[2..<2 + count].reduce(0) { $0 << 8 | Int($1) }
            start = 2 + count
        }
        guard bytes.count == start + length else { return nil }
        return Array(bytes[start...])
    }

    /// A non-negative INTEGER that fits in 64 bits.
    static func integer(_ bytes: [UInt8]) -> UInt64? {
        guard let value = contents(bytes, tag: 0x02), !value.isEmpty, value.count <= 9, value[0] & 0x80 == 0 else {
            return nil
        }
        return value.reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func octetString(_ bytes: [UInt8]) -> [UInt8]? { contents(bytes, tag: 0x04) }

    static func ia5String(_ bytes: [UInt8]) -> String? {
        contents(bytes, tag: 0x16).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// A DER TLV tree, enough for Intel's SGX PCK extension.
struct DERNode {
    var tag: UInt8
    var content: [UInt8]

    /// Parses consecutive TLVs from `bytes`; nil on any malformation.
    static func sequence(_ bytes: [UInt8]) -> [DERNode]? {
        var nodes: [DERNode] = []
        var index = 0
        while index < bytes.count {
            guard bytes.count - index >= 2 else { return nil }
            let tag = bytes[index]
            var length = Int(bytes[index + 1])
            var start = index + 2
            if length & 0x80 != 0 {
                let count = length & 0x7F
                guard count >= 1, count <= 3, bytes.count >= start + count else { return nil }
                length = bytes[start..<start + count].reduce(0) { $0 << 8 | Int($1) }
                start += count
            }
            guard bytes.count - start >= length else { return nil }
            nodes.append(DERNode(tag: tag, content: Array(bytes[start..<start + length])))
            index = start + length
        }
        return nodes
    }

    var children: [DERNode]? { DERNode.sequence(content) }

    /// Dotted form of an OBJECT IDENTIFIER's content.
    var oid: String? {
        guard tag == 0x06, let first = content.first else { return nil }
        var parts = [Int(first / 40), Int(first % 40)]
        var value = 0
        for byte in content.dropFirst() {
            value = value << 7 | Int(byte & 0x7F)
            if byte & 0x80 == 0 {
                parts.append(value)
                value = 0
            }
        }
        return parts.map(String.init).joined(separator: ".")
    }

    var integer: Int? {
        guard tag == 0x02, !content.isEmpty, content.count <= 8 else { return nil }
        return content.reduce(0) { $0 << 8 | Int($1) }
    }
}
