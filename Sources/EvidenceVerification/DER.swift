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
