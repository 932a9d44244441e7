// SPDX-License-Identifier: Apache-2.0
// The indented, key-sorted JSON layout of the agent's state files (the one Foundation's encoder wrote).

import CanonicalJSON

extension JSONValue {
    /// Indented JSON with sorted keys, byte for byte the layout the agent's files have always had
    /// (FoundationEssentials' `JSONEncoder` with `[.prettyPrinted, .sortedKeys]`): two-space indents,
    /// `"key" : value`, members sorted by their UTF-8 bytes, `/` escaped as `\/`, other control characters
    /// as `\u00xx`, an empty array or object as a bracket pair around a blank line, no final newline.
    /// Numbers are written as their text (see ``JSONValue/number(_:)``).
    public func prettyPrintedBytes() -> [UInt8] {
        var out: [UInt8] = []
        writePretty(to: &out, depth: 0)
        return out
    }

    /// A double as that layout writes it: Swift's shortest round-tripping form without a trailing `.0`
    /// (`100`, `12.5`, `1e-05`, `1e+21`).
    public static func number(_ value: Double) -> JSONValue {
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        return .number(text)
    }

    private func writePretty(to out: inout [UInt8], depth: Int) {
        func indent(_ level: Int) { out += [UInt8](repeating: UInt8(ascii: " "), count: 2 * level) }
        switch self {
        case .null: out += Array("null".utf8)
        case .bool(let value): out += Array((value ? "true" : "false").utf8)
        case .number(let text): out += Array(text.utf8)
        case .string(let value): JSONValue.writePrettyString(value, to: &out)
        case .array(let values):
            out += Array("[\n".utf8)
            for (index, value) in values.enumerated() {
                if index > 0 { out += Array(",\n".utf8) }
                indent(depth + 1)
                value.writePretty(to: &out, depth: depth + 1)
            }
            out.append(UInt8(ascii: "\n"))
            indent(depth)
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out += Array("{\n".utf8)
            let sorted = members.sorted { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }
            for (index, member) in sorted.enumerated() {
                if index > 0 { out += Array(",\n".utf8) }
                indent(depth + 1)
                JSONValue.writePrettyString(member.0, to: &out)
                out += Array(" : ".utf8)
                member.1.writePretty(to: &out, depth: depth + 1)
            }
            out.append(UInt8(ascii: "\n"))
            indent(depth)
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func writePrettyString(_ value: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x2F: out += [0x5C, 0x2F]
            case 0x08: out += [0x5C, UInt8(ascii: "b")]
            case 0x0C: out += [0x5C, UInt8(ascii: "f")]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0x00..<0x20: out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
