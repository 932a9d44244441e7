// SPDX-License-Identifier: Apache-2.0
// A bounds-checked little-endian reader and writer: the only place that indexes raw evidence bytes.

/// Why evidence bytes could not be read.
public struct EvidenceError: Error, CustomStringConvertible, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        public var description: String { name }
        public static let truncated = Code(name: "evidence.truncated")
        public static let unsupportedVersion = Code(name: "evidence.unsupported-version")
        public static let reservedNonZero = Code(name: "evidence.reserved-nonzero")
        public static let malformed = Code(name: "evidence.malformed")
        public static let unknownFormat = Code(name: "evidence.unknown-format")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
}

/// Reads fields in order from a byte buffer; every read is bounds-checked.
public struct ByteReader {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    /// Names the structure in error messages (e.g. "SNP report").
    let context: String

    public init(_ bytes: [UInt8], context: String, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
        self.context = context
    }

    public var remaining: Int { bytes.count - offset }

    public mutating func bytes(_ count: Int, _ field: String) throws(EvidenceError) -> [UInt8] {
        guard count >= 0, remaining >= count else {
            throw EvidenceError(
                .truncated,
                "failed to read \(context): '\(field)' needs \(count) bytes at offset 0x\(String(offset, radix: 16)), "
                    + "only \(max(remaining, 0)) left")
        }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    public mutating func u8(_ field: String) throws(EvidenceError) -> UInt8 {
        try bytes(1, field)[0]
    }

    public mutating func u16(_ field: String) throws(EvidenceError) -> UInt16 {
        UInt16(truncatingIfNeeded: try littleEndian(2, field))
    }

    public mutating func u32(_ field: String) throws(EvidenceError) -> UInt32 {
        UInt32(truncatingIfNeeded: try littleEndian(4, field))
    }

    public mutating func u64(_ field: String) throws(EvidenceError) -> UInt64 {
        try littleEndian(8, field)
    }

    private mutating func littleEndian(_ count: Int, _ field: String) throws(EvidenceError) -> UInt64 {
        var value: UInt64 = 0
        for (index, byte) in try bytes(count, field).enumerated() { value |= UInt64(byte) << (8 * index) }
        return value
    }

    /// Reads a reserved range and requires it to be zero.
    public mutating func reserved(_ count: Int, _ field: String) throws(EvidenceError) -> [UInt8] {
        let start = offset
        let value = try bytes(count, field)
        if let index = value.firstIndex(where: { $0 != 0 }) {
            throw EvidenceError(
                .reservedNonZero,
                "failed to read \(context): reserved field '\(field)' is not zero at offset "
                    + "0x\(String(start + index, radix: 16))")
        }
        return value
    }

    public mutating func skip(to newOffset: Int) throws(EvidenceError) {
        guard newOffset >= offset, newOffset <= bytes.count else {
            throw EvidenceError(
                .truncated, "failed to read \(context): offset 0x\(String(newOffset, radix: 16)) is out of range")
        }
        offset = newOffset
    }
}

/// Appends fields in order, mirroring ``ByteReader``.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func append(_ value: [UInt8]) { bytes += value }
    public mutating func u8(_ value: UInt8) { bytes.append(value) }
    public mutating func u16(_ value: UInt16) { littleEndian(UInt64(value), 2) }
    public mutating func u32(_ value: UInt32) { littleEndian(UInt64(value), 4) }
    public mutating func u64(_ value: UInt64) { littleEndian(value, 8) }
    public mutating func zeros(_ count: Int) { bytes += [UInt8](repeating: 0, count: count) }

    private mutating func littleEndian(_ value: UInt64, _ count: Int) {
        for index in 0..<count { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
    }
}
