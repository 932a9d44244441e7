// SPDX-License-Identifier: Apache-2.0
// Hex decoding for the published test vectors.

/// Decodes a hex string (spaces ignored); an invalid pair decodes as 0, which makes the vector fail loudly.
func hex(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = Array(text.utf8).filter { $0 != 0x20 }[...]
    while chars.count >= 2 {
        out.append(UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16) ?? 0)
        chars = chars.dropFirst(2)
    }
    return out
}
